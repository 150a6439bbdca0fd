"""Celery tasks: each decodes its arguments, calls pipeline functions, returns a small dict.

Task names are "paperround.<queue>.<what it does>"; the Python names say what the task does,
so none shadows the pipeline function it calls. Redelivery is harmless by design: the ledger
decides what is due, so a task run twice (acks_late after a worker crash, a duplicate enqueue,
two beat processes) never sends anyone twice. Tasks enqueue follow-up work only after the
transaction that created its rows committed.
"""

from __future__ import annotations

import logging
import os
from datetime import date, timedelta
from typing import Any

from sqlalchemy.exc import OperationalError

from pipeline.delivery.queries import editions_to_send
from pipeline.delivery.recovery import reconcile_unknown, release_stale_claims
from pipeline.delivery.retention import compact_ledger
from pipeline.delivery.sending import send_edition
from pipeline.digest.compose import DigestComposer
from pipeline.digest.due import plan_due
from pipeline.digest.planning import plan_edition
from pipeline.ingest.catalog import enabled_source_ids, source_by_id, sources_to_fetch
from pipeline.ingest.run import ingest_source
from pipeline.relevance.training import train_due
from pipeline.store.db import write_transaction
from pipeline.store.maintenance import cleanup
from pipeline.store.status import Cadence
from pipeline.timeutil import utcnow
from pipeline.wiring import Wiring
from workers.jobs.app import app, app_settings, prune_processed

log = logging.getLogger(__name__)
TRANSIENT = (OperationalError, ConnectionError, TimeoutError)
SKIPPED = {"skipped": "another scheduler run holds the lock"}


class _Process:
    """This process's wiring, made after fork (engines and SMTP connections never cross it)."""

    pid: int = -1
    wiring: Wiring | None = None
    digest_composer: DigestComposer | None = None

    @classmethod
    def get(cls) -> Wiring:
        if cls.wiring is None or cls.pid != os.getpid():
            cls.wiring = Wiring(app_settings())
            cls.digest_composer = None
            cls.pid = os.getpid()
        return cls.wiring

    @classmethod
    def composer(cls) -> DigestComposer:
        wiring = cls.get()
        if cls.digest_composer is None:
            cls.digest_composer = wiring.composer()
        return cls.digest_composer


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


@app.task(name="paperround.ingest.one_source", **_retrying())
def ingest_one_source(source_id: int) -> dict[str, Any]:
    wiring = _Process.get()
    with wiring.sessions() as session:
        source = source_by_id(session, source_id)
    if source is None:
        return {"source_id": source_id, "status": "gone"}
    with wiring.fetcher() as fetcher:
        outcome = ingest_source(
            wiring.sessions, source, fetcher, catch_up_days=wiring.settings.catch_up_days
        )
        return outcome.as_json()


@app.task(name="paperround.ingest.queue_due_sources", **_retrying())
def queue_due_sources() -> dict[str, Any]:
    wiring = _Process.get()
    with wiring.locks.hold("ingest_due", ttl=120) as mine:
        if not mine:
            return SKIPPED
        with wiring.sessions() as session:
            due = sources_to_fetch(session, utcnow())
        for source_id in due:
            ingest_one_source.delay(source_id)
    return {"enqueued": len(due)}


def queue_all_sources() -> int:
    """`paperround ingest --async`: one task per enabled source."""
    with _Process.get().sessions() as session:
        ids = enabled_source_ids(session)
    for source_id in ids:
        ingest_one_source.delay(source_id)
    return len(ids)


# --- plan ----------------------------------------------------------------------------------


def _queue_batches(edition_id: int, due: int) -> int:
    batch = _Process.get().settings.send_batch_size
    count = max(1, -(-due // batch)) if due else 0
    for _ in range(count):
        send_one_batch.delay(edition_id)
    return count


@app.task(name="paperround.plan.due_readers", **_retrying())
def plan_due_readers() -> dict[str, Any]:
    """Every 15 minutes: plan the editions of readers whose send hour came, then fan out."""
    wiring = _Process.get()
    s = wiring.settings
    with wiring.locks.hold("plan_due") as mine:
        if not mine:
            return SKIPPED
        reports = plan_due(
            wiring.sessions,
            pool_size=s.edition_pool_size,
            gravity=s.ranking_gravity,
            catch_up_hours=s.send_catch_up_hours,
        )
        batches = sum(_queue_batches(r.edition_id, r.deliveries) for r in reports)
    return {"editions": [r.edition_id for r in reports], "batches": batches}


@app.task(name="paperround.plan.whole_edition", **_retrying())
def plan_whole_edition(cadence: str = "daily", day: str | None = None) -> dict[str, Any]:
    """`paperround digest plan --async` and admin use: plan a whole slot, then fan out."""
    wiring = _Process.get()
    with write_transaction(wiring.sessions) as session:
        report = plan_edition(
            session,
            cadence=Cadence(cadence),
            day=date.fromisoformat(day) if day else None,
            pool_size=wiring.settings.edition_pool_size,
            gravity=wiring.settings.ranking_gravity,
        )
    batches = _queue_batches(report.edition_id, report.deliveries)
    return {**report.as_json(), "batches": batches}


@app.task(name="paperround.plan.nightly_cleanup", **_retrying())
def nightly_cleanup() -> dict[str, Any]:
    wiring = _Process.get()
    report = cleanup(wiring.sessions)
    return {
        "expired_pending": report.expired_pending,
        "snapshots_pruned": report.snapshots_pruned,
        "broker_files_pruned": prune_processed(wiring.settings),
    }


@app.task(name="paperround.plan.train_relevance", **_retrying())
def train_relevance() -> dict[str, Any]:
    """Nightly: a fresh vocabulary, then the models of readers whose feedback changed."""
    return train_due(_Process.get().sessions).as_json()


RETENTION_BATCHES_PER_RUN = 2000  # 10 million deliveries a night; the rest waits a day


@app.task(name="paperround.plan.ledger_retention", **_retrying())
def nightly_ledger_retention() -> dict[str, Any]:
    """Nightly: compact closed editions older than delivery_retention_days, in batches."""
    wiring = _Process.get()
    report = compact_ledger(
        wiring.sessions,
        wiring.settings.delivery_retention_days,
        max_batches=RETENTION_BATCHES_PER_RUN,
    )
    return report.as_json()


# --- send ----------------------------------------------------------------------------------


@app.task(name="paperround.send.one_batch", **_retrying())
def send_one_batch(edition_id: int) -> dict[str, Any]:
    """Claim one batch of the edition and send it over one SMTP connection."""
    wiring = _Process.get()
    report = send_edition(
        wiring.sessions,
        edition_id,
        _Process.composer(),
        wiring.transports,
        wiring.send_policy(),
        max_batches=1,
    )
    if report.stopped:
        log.warning("edition %s: %s", edition_id, report.stopped)
    return report.as_json()


@app.task(name="paperround.send.queue_edition", **_retrying())
def queue_edition_batches(edition_id: int) -> dict[str, Any]:
    """`paperround digest send --async`: fan the edition's due rows out into batch tasks."""
    with _Process.get().sessions() as session:
        work = {w.edition_id: w for w in editions_to_send(session, utcnow())}
    due = work[edition_id].due if edition_id in work else 0
    return {"edition_id": edition_id, "batches": _queue_batches(edition_id, due)}


@app.task(name="paperround.send.queue_due", **_retrying())
def queue_due_batches() -> dict[str, Any]:
    """Every minute: retries whose time came, and pending rows whose task got lost."""
    wiring = _Process.get()
    idle = timedelta(seconds=wiring.settings.requeue_after_seconds)
    with wiring.locks.hold("send_due", ttl=120) as mine:
        if not mine:
            return SKIPPED
        with wiring.sessions() as session:
            work = editions_to_send(session, utcnow(), idle)
        return {"batches": sum(_queue_batches(w.edition_id, w.due) for w in work)}


@app.task(name="paperround.send.recover_stalled", **_retrying())
def recover_stalled_deliveries() -> dict[str, Any]:
    """Every minute: free claims of dead senders; settle in-flight ones the server can answer."""
    wiring = _Process.get()
    released, unknown = release_stale_claims(
        wiring.sessions, timedelta(seconds=wiring.settings.claim_timeout_seconds)
    )
    result = {"released": released, "unknown": unknown, "reconciled_sent": 0, "requeued": 0}
    lookup = wiring.accepted_lookup()
    if lookup is not None:
        result["reconciled_sent"], result["requeued"] = reconcile_unknown(wiring.sessions, lookup)
    return result
