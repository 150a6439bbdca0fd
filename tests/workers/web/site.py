"""A Paperround web app wired to a real store and a real SMTP server, for HTTP tests."""

from __future__ import annotations

import email
import email.policy
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pipeline.readers.links import LinkMaker, Signer
from pipeline.settings import Settings
from pipeline.store.models import Subscriber
from pipeline.wiring import Wiring
from tests.support.smtpserver import ScriptedSmtpServer
from tests.support.world import settings_for
from workers.web import create_app
from workers.web.context import EXTENSION
from workers.web.server import make_server

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def message_text(data: bytes) -> str:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


@dataclass
class Site:
    app: Flask
    settings: Settings
    sessions: sessionmaker[Session]
    smtp: ScriptedSmtpServer

    @property
    def links(self) -> LinkMaker:
        return Wiring(self.settings, self.sessions).links

    @property
    def signer(self) -> Signer:
        return Wiring(self.settings, self.sessions).signer

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def csrf(self, client: FlaskClient, path: str = "/") -> str:
        page = client.get(path)
        found = CSRF_RE.search(page.get_data(as_text=True))
        assert found, f"no CSRF field on {path}"
        return found.group(1)

    def subscribe(self, client: FlaskClient, address: str, **fields: Any) -> Any:
        form = {"email": address, "csrf_token": self.csrf(client), "cadence": "daily"}
        form.update(fields)
        return client.post("/subscribe", data=form)

    def confirm(self, client: FlaskClient, path: str) -> Any:
        """What a reader does with the confirm link: open the page, press its one button."""
        return client.post(path, data={"csrf_token": self.csrf(client, path)})

    def drain(self) -> None:
        """Wait for the subscribe requests answered so far (they finish in the background)."""
        self.app.extensions[EXTENSION].mailer.drain()

    def mails_to(self, address: str) -> list[str]:
        self.drain()
        return [message_text(m.data) for m in self.smtp.messages if address in m.rcpt_tos]

    def link(self, text: str, kind: str) -> str:
        """The path of the first `kind` link (confirm, unsubscribe, preferences) in a mail."""
        base = self.settings.base_url.rstrip("/")
        found = re.search(re.escape(base) + rf"(/{kind}/[A-Za-z0-9_.\-]+)", text)
        assert found, f"no {kind} link in:\n{text}"
        return found.group(1)

    def reader(self, address: str) -> Subscriber | None:
        """The stored reader, once the subscribe requests already answered were carried out."""
        self.drain()
        with self.sessions() as session:
            key = address.casefold()
            row = session.scalar(select(Subscriber).where(Subscriber.email_key == key))
            if row is not None:
                session.expunge(row)
            return row


def make_site(tmp_path: Path, store: Any, smtp: ScriptedSmtpServer, **overrides: Any) -> Site:
    values: dict[str, Any] = {"base_url": "http://localhost"}
    values.update(overrides)
    settings = settings_for(tmp_path, store.url, smtp_url=smtp.url, **values)
    app = create_app(Wiring(settings, store.sessions))
    app.config["TESTING"] = True
    return Site(app=app, settings=settings, sessions=store.sessions, smtp=smtp)


@contextmanager
def served(app: Flask, port: int = 0, threads: int | None = None) -> Iterator[str]:
    """The app under the server `paperround web` runs (workers/web/server.py: waitress with its
    production settings) on 127.0.0.1, a free port; yields its URL."""
    settings = app.extensions[EXTENSION].settings
    server = make_server(app, settings, host="127.0.0.1", port=port, threads=threads)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.close()
        thread.join(timeout=5)
