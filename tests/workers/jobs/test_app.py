"""The Celery app: the schedule, the task names, and where queued tasks live in Redis."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import workers.jobs.tasks as tasks
from pipeline.settings import load_settings
from tests.conftest import REDIS_PREFIX
from workers.jobs.app import QUEUES, app, create_app
from workers.jobs.queues import queue_depths
from workers.jobs.schedule import beat_schedule


def test_beat_schedule_has_every_periodic_job() -> None:
    schedule = beat_schedule(load_settings({}))
    tasks = {entry["task"] for entry in schedule.values()}
    assert tasks == {
        "paperround.ingest.queue_due_sources",
        "paperround.plan.due_readers",
        "paperround.send.queue_due",
        "paperround.send.recover_stalled",
        "paperround.plan.nightly_cleanup",
        "paperround.plan.ledger_retention",
        "paperround.plan.train_relevance",
    }
    assert tasks <= set(app.tasks)  # each one is registered under that name
    plan = schedule["plan-and-send-due-editions"]["schedule"]
    assert plan.minute == {0, 15, 30, 45}


def test_task_names_say_their_queue_and_differ_from_the_pipeline_functions() -> None:
    ours = {name: task for name, task in app.tasks.items() if name.startswith("paperround.")}
    assert len(ours) >= 9
    for name, task in ours.items():
        _, queue, _ = name.split(".")
        assert queue in QUEUES, name
        function = task.run.__name__
        assert getattr(tasks, function).name == name
    assert not {t.run.__name__ for t in ours.values()} & {
        "ingest_source",
        "plan_due",
        "plan_edition",
        "send_edition",
        "cleanup",
        "compact_ledger",
        "train_due",
    }


def test_queued_tasks_live_under_the_installation_prefix(redis_url: str, tmp_path: Path) -> None:
    """Two installations (or test runs) sharing one Redis never take each other's tasks."""
    import redis

    settings = dataclasses.replace(
        load_settings({}), data_dir=tmp_path, broker_url=redis_url, redis_key_prefix=REDIS_PREFIX
    )
    create_app(settings).send_task("paperround.send.queue_edition", args=[1])
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.llen(REDIS_PREFIX + "send") == 1
        assert queue_depths(settings)["send"] == 1
        assert not client.exists("send")  # nothing outside the prefix
    finally:
        client.close()
