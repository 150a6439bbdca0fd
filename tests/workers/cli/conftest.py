"""The CLI under test: `paperround ARGS...` run in-process with click's CliRunner."""

from __future__ import annotations

import mailbox
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, sessionmaker

from pipeline.store.db import create_engine_for, init_store, session_factory
from tests.conftest import Store
from tests.support.world import seed_papers
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cli:
    data_dir: Path
    sessions: sessionmaker[Session]
    env: dict[str, str]

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), env=self.env, input=input)

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, (result.output, result.stderr, result.exception)
        return result

    def mail(self) -> list[EmailMessage]:
        box = mailbox.Maildir(self.data_dir / "mail", create=True)
        return [
            message_from_bytes(box.get_bytes(key), policy=policy.default) for key in box.iterkeys()
        ]

    def count(self, model: type[object], *where: ColumnElement[bool]) -> int:
        with self.sessions() as session:
            found = session.scalar(select(func.count()).select_from(model).where(*where))
            return int(found or 0)


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Cli]:
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    engine = create_engine_for(f"sqlite:///{data_dir / 'paperround.db'}")
    init_store(engine)
    sessions = session_factory(engine)
    seed_papers(sessions, 30)
    env = {
        "PAPERROUND_DATA_DIR": str(data_dir),
        "PAPERROUND_DATABASE_URL": "",
        "PAPERROUND_SMTP_URL": "capture",
        "PAPERROUND_CAPTURE_PORT": str(free_port()),
        "PAPERROUND_SECRET_KEY": "cli-test-secret-0123456789abcdef",
        "PAPERROUND_BASE_URL": "https://papers.example.org",
    }
    yield Cli(data_dir, sessions, env)
    engine.dispose()
