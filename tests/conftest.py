"""Shared fixtures: real SQLite and PostgreSQL stores, Redis, loopback-only network.

With CI=true, tests that need PostgreSQL or Redis fail when the service is missing instead of
skipping, so a green CI always means they ran.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from pipeline.store.db import create_engine_for, init_store, session_factory
from tests.support import FeedServer

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_URL = os.environ.get(
    "PAPERROUND_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("PAPERROUND_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# Every Redis key this run makes starts with this (settings.redis_key_prefix): other runs and
# other programs may share the server, so the suite deletes only its own keys, never a database.
REDIS_PREFIX = f"paperround-test-{uuid.uuid4().hex[:12]}:"
FIXTURES = Path(__file__).parent / "fixtures"


def service_unavailable(what: str, why: object) -> None:
    """Skip locally, fail under CI: a service test must never silently not run in CI."""
    message = f"{what} unavailable ({why})"
    if CI:
        pytest.fail(f"{message}; it is required when CI=true", pytrace=False)
    pytest.skip(message)


CHROMIUM = Path(os.environ.get("PAPERROUND_CHROMIUM", "/usr/bin/chromium"))


def require_chromium() -> Path:
    """The Debian chromium that Playwright drives (executable_path); skipped locally and a
    failure under CI when it is not installed."""
    if not CHROMIUM.exists():
        service_unavailable(f"chromium at {CHROMIUM} (run `make system-deps`)", "not installed")
    return CHROMIUM


# --- no network but loopback -------------------------------------------------------------

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check_address(sock: socket.socket, address: Any) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = address[0]
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        if host == "localhost":
            return
    raise ConnectionRefusedError(f"tests may only connect to loopback, not {host!r}")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check_address(self, address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check_address(self, address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def _loopback_only() -> Iterator[None]:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign, assignment]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign, assignment]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


# --- stores ------------------------------------------------------------------------------


@dataclass
class Store:
    """A migrated, empty store for one test."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Engine]:
    engine = create_engine_for(PG_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # any failure to reach the server
        engine.dispose()
        service_unavailable("PostgreSQL at " + PG_URL, exc)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_url(pg_server: Engine) -> Iterator[str]:
    """A URL whose connections live in a fresh schema, dropped after the test."""
    schema = "t_" + uuid.uuid4().hex[:12]
    with pg_server.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with pg_server.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def _make_store(url: str) -> Store:
    engine = create_engine_for(url)
    init_store(engine)
    return Store(url=url, engine=engine, sessions=session_factory(engine))


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = _make_store(f"sqlite:///{tmp_path / 'paperround.db'}")
    yield store
    store.engine.dispose()


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    store = _make_store(pg_url)
    yield store
    store.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Store:
    """The same test on both engines Paperround supports."""
    name = "sqlite_store" if request.param == "sqlite" else "pg_store"
    result: Store = request.getfixturevalue(name)
    return result


# --- redis -------------------------------------------------------------------------------


def _delete_own_keys(client: Any) -> None:
    for key in client.scan_iter(match=REDIS_PREFIX + "*", count=500):
        client.delete(key)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The shared test Redis; keys under REDIS_PREFIX are removed before and after the test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except Exception as exc:
        service_unavailable("Redis at " + REDIS_URL, exc)
    _delete_own_keys(client)
    yield REDIS_URL
    _delete_own_keys(client)
    client.close()


# --- loopback HTTP ----------------------------------------------------------------------


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A real HTTP server on 127.0.0.1 serving fixture feeds (tests/support/feedserver.py)."""
    with FeedServer() as server:
        yield server
    assert server.errors == [], "the test feed server itself crashed"
