"""Celery tasks: each decodes its arguments, calls one pipeline function, returns a small dict.

Redelivery is harmless by design: the ledger decides what is due, so a task run twice (acks_late
after a worker crash, a duplicate enqueue, two beat processes) never sends anyone twice.
Tasks enqueue follow-up work only after the transaction that created its rows committed.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy.exc import OperationalError

from pipeline import wiring
from pipeline.delivery.ledger import (
    SendReport,
    reconcile_unknown,
    release_stale_claims,
    send_edition,
)
from pipeline.digest.compose import DigestComposer
from pipeline.digest.planning import plan_edition as plan_edition_rows
from pipeline.ingest.fetch import Fetcher
from pipeline.ingest.run import ingest_source as ingest_one
from pipeline.locks import exclusive
from pipeline.settings import Settings
from pipeline.store.db import create_engine_for, session_factory, write_transaction
from pipeline.store.maintenance import cleanup as cleanup_store
from pipeline.store.maintenance import editions_with_due_work, sources_due
from pipeline.store.maintenance import plan_due as plan_due_rows
from pipeline.store.models import Source
from pipeline.timeutil import utcnow
from workers.jobs.app import app, prune_processed

log = logging.getLogger(__name__)
TRANSIENT = (OperationalError, ConnectionError, TimeoutError)


class _Process:
    """Per-process resources, made after fork (engines and SMTP connections never cross it)."""

    pid: int = -1
    sessions: Any = None
    composer: DigestComposer | None = None

    @classmethod
    def settings(cls) -> Settings:
        return app.paperround_settings  # type: ignore[no-any-return]

    @classmethod
    def ready(cls) -> Any:
        if cls.pid != os.getpid():
            engine = create_engine_for(cls.settings().effective_database_url)
            cls.sessions = session_factory(engine)
            cls.composer = None
            cls.pid = os.getpid()
        return cls.sessions

    @classmethod
    def digest_composer(cls) -> DigestComposer:
        sessions = cls.ready()
        if cls.composer is None:
            cls.composer = wiring.composer(sessions, cls.settings())
        return cls.composer


def _retrying(**kw: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "autoretry_for": TRANSIENT,
        "retry_backoff": 2,
        "retry_backoff_max": 120,
        "retry_jitter": True,
        "max_retries": 8,
    }
    options.update(kw)
    return options


# --- ingest ------------------------------------------------------------------------------


@app.task(name="paperround.ingest_source", **_retrying())
def ingest_source(source_id: int) -> dict[str, Any]:
    sessions = _Process.ready()
    with sessions() as session:
        source = session.get(Source, source_id)
    if source is None:
        return {"source_id": source_id, "status": "gone"}
    with Fetcher.from_settings(_Process.settings()) as fetcher:
        return ingest_one(sessions, source, fetcher).as_dict()


SKIPPED = {"skipped": "another scheduler run holds the lock"}


@app.task(name="paperround.ingest_due", **_retrying())
def ingest_due() -> dict[str, Any]:
    with exclusive(_Process.settings(), "ingest_due", ttl=120) as mine:
        if not mine:
            return SKIPPED
        with _Process.ready()() as session:
            due = sources_due(session, utcnow())
        for source_id in due:
            ingest_source.delay(source_id)
    return {"enqueued": len(due)}


def enqueue_ingest_all() -> int:
    """`paperround ingest --async`: one task per enabled source."""
    sessions = _Process.ready()
    with sessions() as session:
        from sqlalchemy import select

        ids = list(session.scalars(select(Source.id).where(Source.enabled)))
    for source_id in ids:
        ingest_source.delay(source_id)
    return len(ids)


# --- plan ----------------------------------------------------------------------------------


def _enqueue_batches(edition_id: int, due: int) -> int:
    batch = _Process.settings().send_batch_size
    count = max(1, -(-due // batch)) if due else 0
    for _ in range(count):
        send_batch.delay(edition_id)
    return count


@app.task(name="paperround.plan_due", **_retrying())
def plan_due() -> dict[str, Any]:
    """Every 15 minutes: plan the editions of readers whose send hour came, then fan out."""
    with exclusive(_Process.settings(), "plan_due") as mine:
        if not mine:
            return SKIPPED
        reports = plan_due_rows(_Process.ready(), _Process.settings())
        batches = sum(_enqueue_batches(r.edition_id, r.deliveries) for r in reports)
    return {"editions": [r.edition_id for r in reports], "batches": batches}


@app.task(name="paperround.plan_edition", **_retrying())
def plan_edition(cadence: str = "daily", day: str | None = None) -> dict[str, Any]:
    """`paperround digest plan --async` and admin use: plan a whole slot, then fan out."""
    settings = _Process.settings()
    with write_transaction(_Process.ready()) as session:
        report = plan_edition_rows(
            session,
            cadence=cadence,
            day=date.fromisoformat(day) if day else None,
            pool_size=settings.edition_pool_size,
            gravity=settings.ranking_gravity,
        )
    batches = _enqueue_batches(report.edition_id, report.deliveries)
    return {**asdict(report), "slot_date": str(report.slot_date), "batches": batches}


# --- send ----------------------------------------------------------------------------------


@app.task(name="paperround.send_batch", **_retrying())
def send_batch(edition_id: int) -> dict[str, Any]:
    """Claim one batch of the edition and send it over one SMTP connection."""
    settings = _Process.settings()
    report: SendReport = send_edition(
        _Process.ready(),
        edition_id,
        _Process.digest_composer(),
        wiring.transport_factory(settings),
        wiring.send_policy(settings),
        max_batches=1,
    )
    if report.stopped:
        log.warning("edition %s: %s", edition_id, report.stopped)
    return asdict(report)


@app.task(name="paperround.send_edition", **_retrying())
def send_edition_async(edition_id: int) -> dict[str, Any]:
    """`paperround digest send --async`: fan the edition's due rows out into batches."""
    sessions = _Process.ready()
    with sessions() as session:
        work = {w.edition_id: w for w in editions_with_due_work(session, utcnow())}
    due = work[edition_id].due if edition_id in work else 0
    return {"edition_id": edition_id, "batches": _enqueue_batches(edition_id, due)}


@app.task(name="paperround.send_due", **_retrying())
def send_due() -> dict[str, Any]:
    """Every minute: retries whose time came, and pending rows whose task got lost."""
    settings = _Process.settings()
    idle = timedelta(seconds=settings.requeue_after_seconds)
    with exclusive(settings, "send_due", ttl=120) as mine:
        if not mine:
            return SKIPPED
        with _Process.ready()() as session:
            work = editions_with_due_work(session, utcnow(), idle)
        return {"batches": sum(_enqueue_batches(w.edition_id, w.due) for w in work)}


@app.task(name="paperround.expire_claims", **_retrying())
def expire_claims() -> dict[str, Any]:
    """Every minute: free claims of dead senders; settle in-flight ones the server can answer."""
    settings = _Process.settings()
    sessions = _Process.ready()
    released, unknown = release_stale_claims(
        sessions, timedelta(seconds=settings.claim_timeout_seconds)
    )
    result = {"released": released, "unknown": unknown, "reconciled_sent": 0, "requeued": 0}
    lookup = wiring.accepted_lookup(settings)
    if lookup is not None:
        result["reconciled_sent"], result["requeued"] = reconcile_unknown(sessions, lookup)
    return result


@app.task(name="paperround.cleanup", **_retrying())
def cleanup() -> dict[str, Any]:
    result: dict[str, Any] = asdict(cleanup_store(_Process.ready()))
    result["broker_files_pruned"] = prune_processed(_Process.settings())
    return result
