"""A sender killed mid-edition (SIGKILL: no cleanup at all) is resumed without duplicates.

`paperround digest send` runs as a real subprocess against an SMTP server in this process;
the test kills it part-way, releases its stale claims and sends the rest in process. The one
message that may have been in flight at the kill is `unknown` (pipeline/delivery/ explains
why it is never resent automatically); every other reader gets the edition exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.delivery import release_stale_claims, send_edition
from pipeline.digest.planning import plan_edition
from pipeline.store.db import write_transaction
from pipeline.store.models import Delivery, Subscriber
from pipeline.wiring import Wiring
from tests.conftest import Store
from tests.support.smtpserver import ScriptedSmtpServer
from tests.support.world import add_readers, seed_papers, settings_for

ROOT = Path(__file__).resolve().parents[2]
READERS = 500


def _wait_for(condition, timeout: float, what: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            _out, err = proc.communicate()
            pytest.fail(f"sender exited ({proc.returncode}) before {what}: {err.decode()[-2000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.mark.slow
def test_killed_sender_is_resumed_without_duplicates(store: Store, tmp_path: Path) -> None:
    seed_papers(store.sessions)
    readers = add_readers(store.sessions, READERS)
    with write_transaction(store.sessions) as session:
        edition_id = plan_edition(session).edition_id
    with ScriptedSmtpServer() as smtp:
        env = {
            **os.environ,
            "PAPERROUND_DATA_DIR": str(tmp_path / "var"),
            "PAPERROUND_DATABASE_URL": store.url,
            "PAPERROUND_SMTP_URL": smtp.url,
            "PAPERROUND_SEND_BATCH_SIZE": "50",
            "PAPERROUND_SECRET_KEY": "crash-test-secret-0123456789abcdef",
        }
        sender = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from workers.cli import main; main()",
                "digest",
                "send",
                "--edition",
                str(edition_id),
                "--now",  # its readers' send hour is 08:00 UTC: whatever the clock says
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            _wait_for(lambda: len(smtp.messages) >= READERS // 3, 60, "a third was sent", sender)
            sender.send_signal(signal.SIGKILL)
            sender.communicate(timeout=30)
        finally:
            if sender.poll() is None:
                sender.kill()
                sender.wait()
        assert sender.returncode == -signal.SIGKILL
        at_kill = len(smtp.messages)
        assert READERS // 3 <= at_kill < READERS, "the kill must land mid-edition"

        settings = settings_for(tmp_path, store.url, smtp.url)
        released, unknown = release_stale_claims(store.sessions, timedelta(0))
        assert released >= 1 and unknown <= 1
        report = send_edition(
            store.sessions,
            edition_id,
            Wiring(settings, store.sessions).composer(),
            Wiring(settings).transports,
            Wiring(settings).send_policy(),
        )
        assert report.failed == report.unknown == 0

    received = Counter(rcpt for m in smtp.messages for rcpt in m.rcpt_tos)
    assert max(received.values()) == 1, [r for r, n in received.items() if n > 1][:5]
    with store.sessions() as session:
        rows = session.execute(
            select(Subscriber.email, Delivery.status)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)
            .where(Delivery.edition_id == edition_id)
        ).all()
    assert sorted(email for email, _ in rows) == sorted(readers)  # one row per reader
    statuses = Counter(status for _, status in rows)
    assert set(statuses) <= {"sent", "unknown"} and statuses["unknown"] <= 1, statuses
    for email, status in rows:
        if status == "sent":
            assert received[email] == 1, email
    # an unknown row's reader may or may not have it; everyone else got it exactly once
    assert len(received) >= READERS - statuses["unknown"]
