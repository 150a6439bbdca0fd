"""One send benchmark run in its own process, so its peak RSS is its own:

    python -m bench.digest_run READERS SMTP_PORT SAMPLE_FILE [sqlite|postgresql]

Seeds a fresh store (SQLite by default; PostgreSQL: a throw-away schema), plans today's
edition for READERS readers, sends it with pipeline.delivery.sending.send_edition (the code
`paperround digest send` runs) to 127.0.0.1:PORT, writes one sent message to SAMPLE_FILE and
prints JSON: timings, counts, peak RSS.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine

from bench.common import postgres_engine
from bench.digest_world import add_grouped_readers, seed_papers
from pipeline.delivery import ClaimedDelivery, Composed, send_edition
from pipeline.digest.compose import DigestComposer
from pipeline.digest.planning import plan_edition
from pipeline.settings import load_settings
from pipeline.store.db import create_engine_for, init_store, session_factory, write_transaction
from pipeline.wiring import Wiring


def peak_rss_mb() -> float:
    """VmHWM: the most resident memory this process ever had."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


class SampleKeeper:
    """Wraps the composer to keep the first message for the bare-smtplib comparison."""

    def __init__(self, inner: DigestComposer) -> None:
        self.inner = inner
        self.envelope_from = inner.envelope_from
        self.sample: bytes | None = None

    def compose(self, delivery: ClaimedDelivery) -> Composed:
        composed = self.inner.compose(delivery)
        if self.sample is None:
            self.sample = composed.message
        return composed


@contextmanager
def _store(kind: str, folder: str) -> Iterator[Engine]:
    if kind == "postgresql":
        with postgres_engine() as engine:
            yield engine
        return
    if kind != "sqlite":
        raise SystemExit(f"store must be sqlite or postgresql, not {kind!r}")
    engine = create_engine_for(f"sqlite:///{folder}/b.db")
    init_store(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def main(readers: int, port: int, sample_file: Path, store: str = "sqlite") -> dict[str, object]:
    with (
        tempfile.TemporaryDirectory(prefix="paperround-bench-") as folder,
        _store(store, folder) as engine,
    ):
        settings = dataclasses.replace(
            load_settings({}),
            data_dir=Path(folder),
            database_url=engine.url.render_as_string(hide_password=False),
            smtp_url=f"smtp://127.0.0.1:{port}",
            secret_key="bench-secret-0123456789abcdef",
            base_url="https://papers.example.org",
        )
        factory = session_factory(engine)
        seed_papers(factory)
        add_grouped_readers(factory, readers)
        start = time.perf_counter()
        with write_transaction(factory) as session:
            plan = plan_edition(session, pool_size=settings.edition_pool_size)
        planned = time.perf_counter()
        composer = SampleKeeper(Wiring(settings, factory).composer())
        report = send_edition(
            factory,
            plan.edition_id,
            composer,
            Wiring(settings).transports,
            Wiring(settings).send_policy(),
        )
        sent = time.perf_counter()
        assert report.sent == readers, report
        assert composer.inner.compiles == 1
        assert composer.sample is not None
        sample_file.write_bytes(composer.sample)
        return {
            "store": store,
            "readers": readers,
            "segments": plan.segments,
            "plan_s": planned - start,
            "send_s": sent - planned,
            "sent": report.sent,
            "message_bytes": len(composer.sample),
            "peak_rss_mb": peak_rss_mb(),
        }


if __name__ == "__main__":
    result = main(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), *sys.argv[4:5])
    print(json.dumps(result))
