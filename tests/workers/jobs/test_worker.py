"""The task wrappers run by a real Celery worker process on the machine's Redis."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from pipeline.delivery import claim_batch
from pipeline.ingest.catalog import SourceSpec, add_source
from pipeline.settings import load_settings
from pipeline.store.db import write_transaction
from pipeline.store.models import Delivery, Paper, Source
from pipeline.timeutil import utcnow
from tests.conftest import FIXTURES, Store
from tests.support import FeedServer, unused_port
from tests.support.processes import celery_worker, service_env, wait_until
from tests.support.world import add_readers
from workers.capture import CaptureServer
from workers.jobs.app import create_app


def test_tasks_run_in_a_real_worker(
    store: Store, redis_url: str, feed_server: FeedServer, tmp_path: Path
) -> None:
    port = unused_port()
    env = service_env(
        tmp_path / "var", store.url, redis_url, port, PAPERROUND_CLAIM_TIMEOUT_SECONDS="1"
    )
    settings = load_settings(env)
    producer = create_app(settings)  # the same configuration the CLI uses to enqueue
    feed_server.route(
        "/rss",
        (FIXTURES / "feeds" / "arxiv_rss.xml").read_bytes(),
        content_type="application/rss+xml",
    )
    with write_transaction(store.sessions) as session:
        source_id = add_source(session, SourceSpec("rss", feed_server.url("/rss"))).id
    readers = add_readers(store.sessions, 25)

    worker = celery_worker(env, tmp_path / "worker.log")
    try:
        with CaptureServer(settings.maildir, port=port) as capture:
            producer.send_task("paperround.ingest.one_source", args=[source_id])

            def ingested() -> bool:
                with store.sessions() as session:
                    return session.get(Source, source_id).last_status == "ok"  # type: ignore[union-attr]

            wait_until(ingested, 60, "the worker to ingest the source\n" + worker.tail())
            with store.sessions() as session:
                assert session.scalar(select(func.count()).select_from(Paper))

            producer.send_task("paperround.plan.whole_edition", kwargs={"cadence": "daily"})

            def all_sent() -> bool:
                with store.sessions() as session:
                    statuses = Counter(session.scalars(select(Delivery.status)))
                return statuses == Counter(sent=len(readers))

            wait_until(all_sent, 60, "the worker to send the edition\n" + worker.tail())
            received = Counter(m["X-Original-To"] for m in capture.handler._box)
            assert received == Counter(readers)

            # a claim left by a "dead" sender is released by the expire_claims task
            with store.sessions() as session:
                edition_id = session.scalar(select(Delivery.edition_id).limit(1))
            with write_transaction(store.sessions) as session:
                session.execute(
                    update(Delivery).where(Delivery.subscriber_id == 1).values(status="pending")
                )
            assert edition_id is not None
            jobs = claim_batch(
                store.sessions, edition_id, "dead", 10, utcnow() - timedelta(hours=1)
            )
            assert len(jobs) == 1
            producer.send_task("paperround.send.recover_stalled")

            def released() -> bool:
                with store.sessions() as session:
                    return (
                        session.scalar(
                            select(Delivery.status).where(Delivery.id == jobs[0].delivery_id)
                        )
                        == "pending"
                    )

            wait_until(released, 60, "expire_claims to release the stale claim\n" + worker.tail())
    finally:
        worker.stop()
