"""The beat schedule: what runs when. Every job is idempotent (see workers/jobs/tasks.py)."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from pipeline.settings import Settings


def _plan_schedule(seconds: int) -> crontab | float:
    """Whole minutes that divide an hour run on the clock (so :00 is never missed);
    anything else (tests, demos) is a plain interval."""
    if seconds % 60 == 0 and 3600 % seconds == 0:
        return crontab(minute=f"*/{seconds // 60}")
    return float(seconds)


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    every = settings.maintenance_interval_seconds
    return {
        # Sources carry their own interval; this only asks which are due.
        "ingest-due-sources": {"task": "paperround.ingest.queue_due_sources", "schedule": every},
        # Readers' local send hours come on the hour in every zone (and :30/:45 in a few).
        "plan-and-send-due-editions": {
            "task": "paperround.plan.due_readers",
            "schedule": _plan_schedule(settings.plan_interval_seconds),
        },
        "send-due-retries": {"task": "paperround.send.queue_due", "schedule": every},
        "recover-stalled-deliveries": {
            "task": "paperround.send.recover_stalled",
            "schedule": every,
        },
        # Before the morning's editions: what readers rated yesterday counts today.
        "nightly-relevance": {
            "task": "paperround.plan.train_relevance",
            "schedule": crontab(hour=2, minute=47),
        },
        "nightly-cleanup": {
            "task": "paperround.plan.nightly_cleanup",
            "schedule": crontab(hour=3, minute=17),
        },
        "nightly-ledger-retention": {
            "task": "paperround.plan.ledger_retention",
            "schedule": crontab(hour=3, minute=37),
        },
    }
