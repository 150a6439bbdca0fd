"""The CLI under test: `paperround ARGS...` run in-process with click's CliRunner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import Store
from workers.cli import cli


def _env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str | None]:
    """Only our variables: any PAPERROUND_* of the calling shell is switched off."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PAPERROUND_")}
    env.update(
        {
            "PAPERROUND_DATA_DIR": str(tmp_path / "var"),
            "PAPERROUND_DATABASE_URL": database_url,
            "PAPERROUND_MAX_RETRIES": "0",
            "PAPERROUND_CONNECT_TIMEOUT": "2",
            "PAPERROUND_READ_TIMEOUT": "2",
        }
    )
    env.update(extra)
    return env


class Paperround:
    """Runs `paperround ARGS...` with a fixed environment, as a shell would."""

    def __init__(self, env: dict[str, str | None]) -> None:
        self.env = env

    def __call__(self, *args: str, **env: str) -> Result:
        # catch_exceptions=False: a traceback is a bug to see, not an exit code to assert on.
        return CliRunner().invoke(
            cli, list(args), env={**self.env, **env}, catch_exceptions=False, prog_name="paperround"
        )


@pytest.fixture
def paperround(tmp_path: Path, store: Store) -> Paperround:
    """The CLI on a migrated, empty store (SQLite and PostgreSQL)."""
    return Paperround(_env(tmp_path, store.url))


@pytest.fixture
def fresh_sqlite(tmp_path: Path) -> Paperround:
    """The CLI on a database file that does not exist yet, as on a first `make run`."""
    return Paperround(_env(tmp_path, f"sqlite:///{tmp_path / 'new' / 'paperround.db'}"))
