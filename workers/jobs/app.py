"""The Celery app, configured from Paperround's settings.

Broker: PAPERROUND_BROKER_URL (Redis in production). Left empty, kombu's *filesystem*
transport is used: messages are files under data_dir/broker, so the worker, beat and CLI
processes of `make run` share a queue with no server to install. (kombu's "memory" transport
does not cross processes; its SQLAlchemy transport would poll the same SQLite file the ledger
writes, competing for SQLite's single write lock.)

Mail-safe defaults (FINDINGS.md): acks_late + reject_on_worker_lost so a task whose worker
dies is redelivered (the ledger makes that harmless), prefetch 1 so one slow batch does not
hold others hostage, JSON only, time limits, and a Redis visibility timeout longer than any
task so Redis does not hand a running task to a second worker.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from celery import Celery

from pipeline.settings import Settings, load_settings

QUEUES = ("ingest", "plan", "send")


def broker_options(settings: Settings) -> tuple[str, dict[str, Any]]:
    """The broker URL and its transport options."""
    if settings.broker_url:
        options: dict[str, Any] = {}
        if settings.broker_url.startswith(("redis://", "rediss://")):
            options["visibility_timeout"] = 4 * 3600  # > the longest task and any countdown
        return settings.broker_url, options
    folder = Path(settings.data_dir).resolve() / "broker"
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return "filesystem://", {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        # Kept processed files land in a folder on the same file system, so taking a message
        # is an atomic rename: two workers never both get one. The nightly cleanup prunes it.
        "processed_folder": str(folder / "processed"),
        "store_processed": True,
        "control_folder": str(folder / "control"),  # default: "control" in the working dir
    }


def prune_processed(settings: Settings, older_than: float = 3600.0) -> int:
    """Delete filesystem-broker messages already handled (kept only for atomic hand-over)."""
    if settings.broker_url:
        return 0
    folder = Path(settings.data_dir).resolve() / "broker" / "processed"
    cutoff = time.time() - older_than
    pruned = 0
    for path in folder.glob("*.msg"):
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff:
                path.unlink()
                pruned += 1
    return pruned


def create_app(settings: Settings | None = None) -> Celery:
    settings = settings or load_settings()
    broker, transport_options = broker_options(settings)
    app = Celery("paperround", broker=broker, include=["workers.jobs.tasks"])
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=30 * 60,
        task_soft_time_limit=25 * 60,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        task_default_queue="plan",
        task_routes={
            "paperround.ingest_*": {"queue": "ingest"},
            "paperround.plan_*": {"queue": "plan"},
            "paperround.send_*": {"queue": "send"},
            "paperround.expire_claims": {"queue": "send"},
            "paperround.cleanup": {"queue": "plan"},
        },
        worker_hijack_root_logger=False,
        timezone="UTC",
        enable_utc=True,
        beat_schedule_filename=str(Path(settings.data_dir).resolve() / "celerybeat-schedule"),
    )
    from workers.jobs.schedule import beat_schedule

    app.conf.beat_schedule = beat_schedule(settings)
    app.paperround_settings = settings
    return app


app = create_app()
