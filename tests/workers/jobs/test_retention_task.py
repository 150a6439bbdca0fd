"""The nightly retention task: a thin door onto pipeline/delivery/retention.py."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

import workers.jobs.tasks as tasks
from pipeline.delivery.sending import send_edition
from pipeline.digest.planning import plan_edition
from pipeline.store.db import write_transaction
from pipeline.store.models import Delivery, Edition, SentHistory
from pipeline.timeutil import utcnow
from pipeline.wiring import Wiring
from tests.conftest import Store
from tests.support.smtpserver import ScriptedSmtpServer
from tests.support.world import add_readers, seed_papers, settings_for


def test_the_nightly_task_compacts_editions_past_the_retention_period(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ScriptedSmtpServer() as smtp:
        settings = settings_for(tmp_path, store.url, smtp.url, delivery_retention_days=30)
        wiring = Wiring(settings, store.sessions)
        monkeypatch.setattr(tasks._Process, "wiring", wiring)
        monkeypatch.setattr(tasks._Process, "pid", os.getpid())
        seed_papers(store.sessions)
        add_readers(store.sessions, 4)
        with write_transaction(store.sessions) as session:
            edition_id = plan_edition(session).edition_id
        report = send_edition(
            store.sessions, edition_id, wiring.composer(), wiring.transports, wiring.send_policy()
        )
        assert report.sent == 4
    assert tasks.nightly_ledger_retention.run()["deliveries_removed"] == 0  # too recent
    with write_transaction(store.sessions) as session:
        session.execute(
            update(Edition)
            .where(Edition.id == edition_id)
            .values(completed_at=utcnow() - timedelta(days=31))
        )
    result = tasks.nightly_ledger_retention.run()
    assert result["editions_compacted"] == 1 and result["deliveries_removed"] == 4
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0
        assert session.scalar(select(func.count()).select_from(SentHistory)) == 4
