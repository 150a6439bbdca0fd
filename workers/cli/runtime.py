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


class Runtime:
    """The command's Wiring, made on first use (so `--help` never reads settings)."""

    def __init__(self) -> None:
        self._wiring: Wiring | None = None

    @property
    def wiring(self) -> Wiring:
        if self._wiring is None:
            self._wiring = Wiring(load_settings())
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

    def close(self) -> None:
        """Close pooled connections when the command ends (PostgreSQL sees a clean logout)."""
        if self._wiring is not None:
            self._wiring.close()


pass_runtime = click.make_pass_decorator(Runtime, ensure=True)


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
                f"database unavailable: {reason} (check PAPERROUND_DATABASE_URL, "
                "then run `paperround init`)"
            ) from exc
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        except OSError as exc:  # e.g. the SQLite file's folder cannot be created
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(f"{where}{exc.strerror or exc}") from exc

    return wrapper
