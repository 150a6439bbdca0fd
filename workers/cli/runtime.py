"""What every command needs, built lazily from settings, and expected errors made one line."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from pipeline.settings import Settings, SettingsError, load_settings
from pipeline.wiring import Wiring

P = ParamSpec("P")
R = TypeVar("R")


def _warn(line: str) -> None:
    click.echo(f"Warning: {line}", err=True)


class Runtime:
    """The command's Wiring, made on first use (so `--help` never reads settings).

    Only the commands that make a store (`init`, `run`) may start on a missing SQLite file:
    any other command run from the wrong folder, or with a mistyped data_dir, would otherwise
    create an empty second store and report that nothing is there.
    """

    def __init__(self) -> None:
        self._wiring: Wiring | None = None
        self.creates_store = False

    @property
    def wiring(self) -> Wiring:
        if self._wiring is None:
            settings = load_settings(warn=_warn)
            missing = settings.sqlite_file
            if not self.creates_store and missing is not None and not missing.exists():
                raise click.ClickException(
                    f"no store at {missing}; run `paperround init` to create it, or point "
                    "PAPERROUND_DATA_DIR or PAPERROUND_DATABASE_URL at the existing one"
                )
            self._wiring = Wiring(settings)
        return self._wiring

    @property
    def settings(self) -> Settings:
        return self.wiring.settings

    @property
    def engine(self) -> Engine:
        return self.wiring.engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.wiring.sessions

    @property
    def store_name(self) -> str:
        """The store as people should see it: the SQLite file's path, or the URL (no password)."""
        path = self.settings.sqlite_file
        if path is not None:
            return str(path)
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Close pooled connections when the command ends (PostgreSQL sees a clean logout)."""
        if self._wiring is not None:
            self._wiring.close()


pass_runtime = click.make_pass_decorator(Runtime, ensure=True)


def _store_of(args: tuple[object, ...]) -> str:
    runtime = next((a for a in args if isinstance(a, Runtime)), None)
    if runtime is None or runtime._wiring is None:
        return "the store"
    return runtime.store_name


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn expected failures into `Error: <one line>` and exit status 1, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except SettingsError as exc:
            raise click.ClickException(f"{exc} (fix the setting and run again)") from exc
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise click.ClickException(
                f"database unavailable: {reason} (store: {_store_of(args)}; check "
                "PAPERROUND_DATABASE_URL, then run `paperround init`)"
            ) from exc
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        except OSError as exc:  # e.g. the SQLite file's folder cannot be created
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(f"{where}{exc.strerror or exc}") from exc

    return wrapper
