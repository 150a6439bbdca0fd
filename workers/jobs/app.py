"""The Celery app, configured from Paperround's settings when it is first used, not on import.

Broker: PAPERROUND_BROKER_URL (Redis in production). Left empty, kombu's *filesystem*
transport is used: messages are files under data_dir/broker, so the worker, beat and CLI
processes of `make run` share a queue with no server to install. (kombu's "memory" transport
does not cross processes; its SQLAlchemy transport would poll the same SQLite file the ledger
writes, competing for SQLite's single write lock.) With Redis every key carries
`redis_key_prefix`, so installations sharing a Redis server never take each other's tasks.

Mail-safe defaults: acks_late + reject_on_worker_lost so a task whose worker dies is
redelivered (the ledger makes that harmless), prefetch 1 (Celery's default of 4 lets one slow
batch hold others hostage), JSON only, time limits, and a Redis visibility timeout longer than
any task (the default hour would hand a longer task to a second worker).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from celery import Celery

from pipeline.settings import Settings, load_settings

QUEUES = ("ingest", "plan", "send")


def broker_options(settings: Settings, *, create: bool = False) -> tuple[str, dict[str, Any]]:
    """The broker URL and its transport options; `create` makes the filesystem queue's folders."""
    if settings.broker_url:
        options: dict[str, Any] = {}
        if settings.broker_is_redis:
            options["visibility_timeout"] = 4 * 3600  # > the longest task and any countdown
            options["global_keyprefix"] = settings.redis_key_prefix
        return settings.broker_url, options
    folder = Path(settings.data_dir).resolve() / "broker"
    if create:
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


def celery_config(settings: Settings) -> dict[str, Any]:
    from workers.jobs.schedule import beat_schedule

    broker, transport_options = broker_options(settings, create=True)
    return {
        "broker_url": broker,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "result_backend": None,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_time_limit": 30 * 60,
        "task_soft_time_limit": 25 * 60,
        "broker_transport_options": transport_options,
        "broker_connection_retry_on_startup": True,
        "task_default_queue": "plan",
        # Task names are "paperround.<queue>.<what it does>".
        "task_routes": {f"paperround.{queue}.*": {"queue": queue} for queue in QUEUES},
        "worker_hijack_root_logger": False,
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule_filename": str(Path(settings.data_dir).resolve() / "celerybeat-schedule"),
        "beat_schedule": beat_schedule(settings),
    }


class _Configured:
    """The settings this process's app runs with, loaded on first use."""

    settings: Settings | None = None

    @classmethod
    def get(cls) -> Settings:
        if cls.settings is None:
            cls.settings = load_settings()
        return cls.settings


def app_settings() -> Settings:
    return _Configured.get()


def create_app(settings: Settings) -> Celery:
    """An app bound to `settings` (tests and the CLI enqueue through one of these)."""
    celery = Celery("paperround", include=["workers.jobs.tasks"])
    celery.conf.update(celery_config(settings))
    return celery


# `celery -A workers.jobs.app worker` finds this. Its configuration is a promise: settings are
# read (and the filesystem queue's folders made) only when Celery first needs them.
app = Celery("paperround", include=["workers.jobs.tasks"])
app.add_defaults(lambda: celery_config(app_settings()))
