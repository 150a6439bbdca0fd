"""Service benchmark (issue 5): an edition to 100,000 readers through Redis + 2 Celery worker
processes into Postfix's `smtp-sink`, next to the in-process `digest send` path (one process,
same database engine, same sink) measured in the same run.

Target: the workers' messages/second at least 1.6x the in-process figure on 2 cores.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import Engine, func, select

from bench.common import postgres_engine
from bench.digest import smtp_sink
from bench.digest_world import add_grouped_readers, seed_papers
from pipeline.delivery import send_edition
from pipeline.digest.planning import plan_edition
from pipeline.settings import Settings, load_settings
from pipeline.store.db import session_factory, write_transaction
from pipeline.store.models import Delivery
from pipeline.store.status import DeliveryStatus
from pipeline.wiring import Wiring
from workers.supervisor import worker_argv

READERS = 100_000
BASELINE_READERS = 20_000
WORKER_PROCESSES = 2
RUNS = 3
BROKER = os.environ.get("PAPERROUND_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
# The Redis server may be shared: this run's keys carry their own prefix, and only they are
# deleted afterwards.
PREFIX = f"paperround-bench-{uuid.uuid4().hex[:10]}:"
ROOT = Path(__file__).resolve().parents[1]


def _settings(folder: Path, engine: Engine, port: int) -> Settings:
    return dataclasses.replace(
        load_settings({}),
        data_dir=folder,
        database_url=engine.url.render_as_string(hide_password=False),
        smtp_url=f"smtp://127.0.0.1:{port}",
        broker_url=BROKER,
        redis_key_prefix=PREFIX,
        secret_key="bench-secret-key-0123456789abcdef",
        base_url="https://papers.example.org",
        send_batch_size=200,
    )


def _planned(engine: Engine, readers: int) -> int:
    factory = session_factory(engine)
    seed_papers(factory)
    add_grouped_readers(factory, readers)
    with write_transaction(factory) as session:
        report = plan_edition(session, cadence="daily")
    assert report.deliveries == readers, report
    return report.edition_id


def _forget_own_keys(client: redis.Redis) -> None:
    for key in client.scan_iter(match=PREFIX + "*", count=500):
        client.delete(key)


def _sent(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(select(func.count()).where(Delivery.status == DeliveryStatus.SENT)) or 0
        )


def in_process(port: int) -> float:
    """Messages/second of pipeline.delivery.send_edition in this one process."""
    with postgres_engine() as engine, tempfile.TemporaryDirectory() as folder:
        edition_id = _planned(engine, BASELINE_READERS)
        settings = _settings(Path(folder), engine, port)
        factory = session_factory(engine)
        start = time.perf_counter()
        report = send_edition(
            factory,
            edition_id,
            Wiring(settings, factory).composer(),
            Wiring(settings).transports,
            Wiring(settings).send_policy(),
        )
        elapsed = time.perf_counter() - start
        assert report.sent == BASELINE_READERS, report
        return BASELINE_READERS / elapsed


def through_workers(port: int) -> dict[str, float]:
    """Total time and rate of the 100,000-reader edition sent by Celery workers."""
    client = redis.Redis.from_url(BROKER)
    _forget_own_keys(client)
    with postgres_engine() as engine, tempfile.TemporaryDirectory() as folder:
        edition_id = _planned(engine, READERS)
        settings = _settings(Path(folder), engine, port)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERROUND_")}
        env.update(
            PAPERROUND_DATA_DIR=folder,
            PAPERROUND_DATABASE_URL=settings.database_url,
            PAPERROUND_SMTP_URL=settings.smtp_url,
            PAPERROUND_BROKER_URL=BROKER,
            PAPERROUND_REDIS_KEY_PREFIX=PREFIX,
            PAPERROUND_SECRET_KEY=settings.secret_key,
            PAPERROUND_BASE_URL=settings.base_url,
            PAPERROUND_SEND_BATCH_SIZE=str(settings.send_batch_size),
            PYTHONPATH=str(ROOT),
        )
        log = Path(folder) / "worker.log"
        argv = worker_argv("send", WORKER_PROCESSES, f"bench-{os.getpid()}", "WARNING")
        worker = subprocess.Popen(
            [*argv, "--without-gossip", "--without-mingle"],
            env=env,
            cwd=ROOT,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            time.sleep(4)  # worker start-up is not part of the send
            from workers.jobs.app import create_app

            start = time.perf_counter()
            create_app(settings).send_task("paperround.send.queue_edition", args=[edition_id])
            deadline = start + 1800
            while _sent(engine) < READERS:
                if worker.poll() is not None or time.perf_counter() > deadline:
                    raise RuntimeError("workers stopped or timed out:\n" + log.read_text()[-2000:])
                time.sleep(0.5)
            elapsed = time.perf_counter() - start
        finally:
            worker.terminate()
            worker.wait(30)
            _forget_own_keys(client)
    return {"seconds": elapsed, "rate": READERS / elapsed}


def run() -> dict[str, Any]:
    """Both paths, interleaved, RUNS times each (these machines are noisy); medians."""
    baseline: list[float] = []
    workers: list[dict[str, float]] = []
    with smtp_sink() as port:
        for _ in range(RUNS):
            baseline.append(in_process(port))
            workers.append(through_workers(port))
    middle = sorted(workers, key=lambda w: w["rate"])[len(workers) // 2]
    return {
        "readers": READERS,
        "worker_processes": WORKER_PROCESSES,
        "runs": RUNS,
        "workers_seconds": middle["seconds"],
        "workers_rate": middle["rate"],
        "workers_rates": [w["rate"] for w in workers],
        "in_process_readers": BASELINE_READERS,
        "in_process_rate": statistics.median(baseline),
        "in_process_rates": baseline,
        "ratio": middle["rate"] / statistics.median(baseline),
    }


def report(results: dict[str, Any]) -> str:
    def runs(rates: list[float]) -> str:
        return ", ".join(f"{r:,.0f}" for r in rates)

    return "\n".join(
        [
            f"An edition to {results['readers']:,} readers, PostgreSQL + Redis, "
            f"{results['worker_processes']} worker processes, into smtp-sink on loopback "
            f"(median of {results['runs']} interleaved runs):",
            "",
            "| path | messages/s | runs | total |",
            "| --- | ---: | --- | ---: |",
            f"| in-process `send_edition` ({results['in_process_readers']:,} readers) | "
            f"{results['in_process_rate']:,.0f} | {runs(results['in_process_rates'])} | |",
            f"| Celery, {results['worker_processes']} processes | {results['workers_rate']:,.0f} | "
            f"{runs(results['workers_rates'])} | {results['workers_seconds']:.0f} s |",
            "",
            f"Ratio workers / in-process: **{results['ratio']:.2f}x** (target 1.6x).",
        ]
    )
