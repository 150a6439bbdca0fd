"""Crash safety with real processes: a SIGKILLed worker, a restarted Redis, an SMTP outage.

Each test runs the real service pieces (Celery worker and beat subprocesses, Redis, the
capture SMTP server) and checks the two promises: every reader has exactly one `sent`
delivery, and the SMTP server received exactly one message per reader.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pipeline.digest.planning import plan_edition
from pipeline.settings import Settings, load_settings
from pipeline.store.db import write_transaction
from pipeline.store.models import Delivery
from tests.conftest import Store
from tests.support import unused_port
from tests.support.processes import (
    Proc,
    RedisServer,
    celery_beat,
    celery_worker,
    service_env,
    wait_until,
)
from tests.support.world import add_readers, seed_papers
from workers.capture import CaptureServer
from workers.jobs.app import create_app

pytestmark = pytest.mark.slow

FAST_RECOVERY = {
    "PAPERROUND_CLAIM_TIMEOUT_SECONDS": "5",
    "PAPERROUND_REQUEUE_AFTER_SECONDS": "5",
    "PAPERROUND_MAINTENANCE_INTERVAL_SECONDS": "2",
    "PAPERROUND_RETRY_BACKOFF_SECONDS": "3",
    "PAPERROUND_SEND_MAX_ATTEMPTS": "10",
}


def received(maildir: Path) -> Counter[str]:
    """Messages per recipient in the capture Maildir (X-Original-To is its second line)."""
    counts: Counter[str] = Counter()
    for path in (maildir / "new").iterdir():
        with path.open("rb") as handle:
            handle.readline()
            line = handle.readline().decode()
        counts[line.removeprefix("X-Original-To:").strip()] += 1
    return counts


def statuses(store: Store) -> Counter[str]:
    with store.sessions() as session:
        return Counter(
            dict(
                session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
                .tuples()
                .all()
            )
        )


class Service:
    """Worker + beat for one test, with the settings they were started with."""

    def __init__(self, tmp_path: Path, store: Store, broker_url: str, port: int) -> None:
        self.tmp_path = tmp_path
        self.env = service_env(tmp_path / "var", store.url, broker_url, port, **FAST_RECOVERY)
        self.settings: Settings = load_settings(self.env)
        self.procs: list[Proc] = []
        self.workers = 0

    def worker(self) -> Proc:
        self.workers += 1
        proc = celery_worker(
            self.env, self.tmp_path / f"worker{self.workers}.log", name=f"w{self.workers}"
        )
        self.procs.append(proc)
        return proc

    def beat(self) -> Proc:
        proc = celery_beat(self.env, self.tmp_path / "beat.log", self.tmp_path / "beat-schedule")
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} {p.log.name}\n{p.tail(15)}" for p in self.procs)

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop()


@pytest.fixture
def service_parts(tmp_path: Path) -> Iterator[list[Service]]:
    made: list[Service] = []
    yield made
    for service in made:
        service.stop()


def assert_each_reader_once(store: Store, service: Service, emails: list[str]) -> None:
    """Wait for every delivery to be sent, then check the two promises: one `sent` row and
    one received message per reader."""
    n = len(emails)
    wait_until(
        lambda: statuses(store) == Counter(sent=n),
        300,
        lambda: f"every delivery sent (now {statuses(store)})\n" + service.logs(),
    )
    time.sleep(1)  # let the capture server finish filing the last message
    assert received(service.settings.maildir) == Counter(emails)


def _edition(store: Store, readers: int) -> tuple[int, list[str]]:
    seed_papers(store.sessions)
    emails = add_readers(store.sessions, readers)
    with write_transaction(store.sessions) as session:
        report = plan_edition(session, cadence="daily")
    assert report.deliveries == readers
    return report.edition_id, emails


def _sent_at_least(store: Store, n: int) -> bool:
    return statuses(store)["sent"] >= n


def test_worker_killed_mid_edition_then_restarted(
    pg_store: Store, redis_url: str, tmp_path: Path, service_parts: list[Service]
) -> None:
    store = pg_store
    port = unused_port()
    service = Service(tmp_path, store, redis_url, port)
    service_parts.append(service)
    edition_id, emails = _edition(store, 10_000)
    with CaptureServer(service.settings.maildir, port=port):
        worker = service.worker()
        service.beat()
        create_app(service.settings).send_task("paperround.send.queue_edition", args=[edition_id])
        wait_until(
            lambda: _sent_at_least(store, 2_000),
            180,
            lambda: "2,000 sends\n" + service.logs(),
        )
        worker.kill()  # SIGKILL to the worker and its pool processes, mid-batch
        killed_at = statuses(store)
        assert killed_at["sent"] < 10_000, "the edition finished before the kill"
        service.worker()
        assert_each_reader_once(store, service, emails)


def test_redis_restarted_mid_edition(
    pg_store: Store, tmp_path: Path, service_parts: list[Service]
) -> None:
    store = pg_store
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    port = unused_port()
    service = Service(tmp_path, store, redis_server.url, port)
    service_parts.append(service)
    edition_id, emails = _edition(store, 3_000)
    try:
        with CaptureServer(service.settings.maildir, port=port):
            service.worker()
            service.beat()
            create_app(service.settings).send_task(
                "paperround.send.queue_edition", args=[edition_id]
            )
            wait_until(
                lambda: _sent_at_least(store, 300),
                120,
                lambda: "300 sends\n" + service.logs(),
            )
            redis_server.stop()  # nothing on disk: every queued task is lost
            time.sleep(3)
            redis_server.start()
            assert_each_reader_once(store, service, emails)
    finally:
        service.stop()
        redis_server.stop()


def test_smtp_server_down_for_a_minute(
    sqlite_store: Store, redis_url: str, tmp_path: Path, service_parts: list[Service]
) -> None:
    store = sqlite_store
    port = unused_port()
    service = Service(tmp_path, store, redis_url, port)
    service_parts.append(service)
    edition_id, emails = _edition(store, 2_000)
    capture = CaptureServer(service.settings.maildir, port=port).start()
    try:
        service.worker()
        service.beat()
        create_app(service.settings).send_task("paperround.send.queue_edition", args=[edition_id])
        wait_until(lambda: _sent_at_least(store, 200), 120, lambda: "200 sends\n" + service.logs())
        capture.stop()
        down_since = time.monotonic()
        time.sleep(60)
        during = statuses(store)
        assert during["sent"] < 2_000 and during["failed"] == 0
        capture = CaptureServer(service.settings.maildir, port=port).start()
        assert_each_reader_once(store, service, emails)
        assert time.monotonic() - down_since >= 60
    finally:
        capture.stop()


def test_two_beat_processes_do_not_double_send(
    sqlite_store: Store, redis_url: str, tmp_path: Path, service_parts: list[Service]
) -> None:
    from datetime import UTC, datetime

    store = sqlite_store
    port = unused_port()
    service = Service(tmp_path, store, redis_url, port)
    service.env["PAPERROUND_PLAN_INTERVAL_SECONDS"] = "2"
    service_parts.append(service)
    seed_papers(store.sessions)
    emails = add_readers(store.sessions, 300, send_hour=datetime.now(UTC).hour)
    with CaptureServer(service.settings.maildir, port=port):
        service.worker()
        for n in (1, 2):  # the mistake: a second scheduler with its own schedule file
            service.procs.append(
                celery_beat(service.env, tmp_path / f"beat{n}.log", tmp_path / f"schedule{n}")
            )
        assert_each_reader_once(store, service, emails)
        time.sleep(8)  # several more planning rounds of both schedulers
        assert_each_reader_once(store, service, emails)
