"""`paperround run` (what `make run` starts) on embedded defaults: no Redis, no PostgreSQL, no
mail server. A reader subscribes, confirms and receives the next scheduled digest without any
other command; Ctrl-C stops every process."""

from __future__ import annotations

import email
import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import httpx
import pytest

from tests.conftest import FIXTURES
from tests.support import FeedServer, unused_port
from tests.support.processes import ROOT, wait_until

pytestmark = pytest.mark.slow


def _mails(maildir: Path) -> list[email.message.EmailMessage]:
    folder = maildir / "new"
    if not folder.exists():
        return []
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(folder.iterdir())
    ]


def _text(message: email.message.EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_run_serves_subscribes_and_delivers_the_scheduled_digest(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.route(
        "/hf", (FIXTURES / "feeds" / "hf_daily.json").read_bytes(), content_type="application/json"
    )
    feed_server.route(
        "/rss",
        (FIXTURES / "feeds" / "arxiv_rss.xml").read_bytes(),
        content_type="application/rss+xml",
    )
    web_port, capture_port = unused_port(), unused_port()
    base = f"http://127.0.0.1:{web_port}"
    data = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERROUND_")}
    env.update(
        PAPERROUND_DATA_DIR=str(data),
        PAPERROUND_CAPTURE_PORT=str(capture_port),
        PAPERROUND_BASE_URL=base,
        PAPERROUND_MAINTENANCE_INTERVAL_SECONDS="2",
        PAPERROUND_PLAN_INTERVAL_SECONDS="3",
        PAPERROUND_DEFAULT_SOURCES=(
            f"hf|hf-daily|{feed_server.url('/hf')},rss|arxiv-rss|{feed_server.url('/rss')}"
        ),
        PYTHONPATH=str(ROOT),
    )
    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen(
        [sys.executable, "-m", "workers.cli", "run", "--port", str(web_port)],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def logs() -> str:
        return (tmp_path / "run.log").read_text(errors="replace")[-3000:]

    try:

        def site_up() -> bool:
            try:
                return httpx.get(base + "/", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(site_up, 60, lambda: "the web app\n" + logs())
        # the beat ingests the default sources on its own
        wait_until(
            lambda: (
                "Trending" in httpx.get(base + "/").text
                and "Video World Models" in httpx.get(base + "/").text
            ),
            60,
            lambda: "ingestion\n" + logs(),
        )

        hour = datetime.now(UTC).hour
        reply = httpx.post(
            base + "/api/subscribe",
            json={
                "email": "reader@example.org",
                "send_hour": hour,
                "timezone": "UTC",
            },
        )
        assert reply.status_code == 202, reply.text
        maildir = data / "mail"
        wait_until(
            lambda: len(_mails(maildir)) == 1,
            30,
            lambda: "the confirmation mail\n" + logs(),
        )
        confirm = re.search(
            re.escape(base) + r"/confirm/[A-Za-z0-9_.\-]+", _text(_mails(maildir)[0])
        )
        assert confirm, _text(_mails(maildir)[0])
        # the link shows a button (mail scanners open links); pressing it confirms
        with httpx.Client() as browser:
            page = browser.get(confirm.group(0))
            assert page.status_code == 200
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token, page.text
            pressed = browser.post(confirm.group(0), data={"csrf_token": token.group(1)})
            assert pressed.status_code == 200, pressed.text

        # nothing else is run: the schedule plans and sends the reader's digest
        wait_until(lambda: len(_mails(maildir)) == 2, 90, lambda: "the scheduled digest\n" + logs())
        digest = _mails(maildir)[1]
        assert digest["To"] == "reader@example.org"
        assert "trending" in digest["Subject"]
        assert "Video World Models at Scale" in _text(digest)
        assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    finally:
        run.send_signal(signal.SIGINT)  # what Ctrl-C does
        try:
            code = run.wait(45)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            raise
        log.close()
    assert code == 0, logs()
    leftovers = subprocess.run(["pgrep", "-f", f"--port {web_port}"], capture_output=True)
    assert leftovers.stdout == b"", "a child outlived `paperround run`"
