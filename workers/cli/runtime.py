"""What every command needs: settings, the store, a fetcher; built lazily, errors made one-line."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import click
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from pipeline.settings import Settings, SettingsError, load_settings
from pipeline.store.db import create_engine_for, session_factory

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Runtime:
    _settings: Settings | None = None
    _engine: Engine | None = None
    _factory: sessionmaker[Session] | None = field(default=None)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine_for(self.settings.effective_database_url)
        return self._engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        if self._factory is None:
            self._factory = session_factory(self.engine)
        return self._factory

    def close(self) -> None:
        """Close pooled connections when the command ends (PostgreSQL sees a clean logout)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._factory = None


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


def echo_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")
