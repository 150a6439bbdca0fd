"""Fixtures for the web tests: a site on SQLite (most tests) or on both engines (`any_site`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.smtpserver import ScriptedSmtpServer
from tests.workers.web.site import Site, make_site

SiteMaker = Callable[..., Site]


@pytest.fixture
def smtp() -> Iterator[ScriptedSmtpServer]:
    with ScriptedSmtpServer() as server:
        yield server


@pytest.fixture
def site_maker(tmp_path: Path, smtp: ScriptedSmtpServer) -> Iterator[SiteMaker]:
    """make(store, **setting_overrides): sites whose mail threads finish before SMTP stops."""
    built: list[Site] = []

    def make(store: Any, **overrides: Any) -> Site:
        site = make_site(tmp_path, store, smtp, **overrides)
        built.append(site)
        return site

    yield make
    for site in built:
        site.app.extensions["paperround"].mailer.close()


@pytest.fixture
def site(site_maker: SiteMaker, sqlite_store: Any) -> Site:
    return site_maker(sqlite_store)


@pytest.fixture
def any_site(site_maker: SiteMaker, store: Any) -> Site:
    """The same site on SQLite and on PostgreSQL."""
    return site_maker(store)
