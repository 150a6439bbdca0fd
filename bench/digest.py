"""Digest benchmarks (issue 3).

(a) plan + render an edition for 10,000 readers whose selections all differ (10,000 segments):
    plan_edition, then per segment the composer's MessageTemplate and one reader's message
    (MJML + premailer once for the edition). Target: under 10 s.
(b) end-to-end send (pipeline.delivery.send_edition, what `paperround digest send` runs) of
    20,000 readers to Postfix's C `smtp-sink` on loopback, on SQLite and on PostgreSQL, each
    next to a bare smtplib loop sending one of those messages over one connection to the same
    sink. Targets: >= 0.92 of the bare rate on SQLite, >= 0.80 on PostgreSQL.
(c) peak RSS (VmHWM) of plan + send in a fresh process at 2,000 and 20,000 readers: flat, < 300 MB.
"""

from __future__ import annotations

import json
import os
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from bench.common import postgres_engine, sqlite_engine
from bench.digest_world import add_distinct_readers, seed_papers
from pipeline.delivery import ClaimedDelivery
from pipeline.digest.planning import plan_edition
from pipeline.settings import load_settings
from pipeline.store.db import session_factory, write_transaction
from pipeline.store.models import Delivery, Segment, Subscriber
from pipeline.wiring import Wiring

DISTINCT_READERS = 10_000
SEND_READERS = 20_000
RSS_SIZES = (2_000, 20_000)
BARE_MESSAGES = 5_000
SINK = "/usr/sbin/smtp-sink"


# --- (a) planning + rendering with 10,000 distinct selections -------------------------------


def _plan_and_render(make_engine: Callable[[], AbstractContextManager[Engine]]) -> dict[str, Any]:
    import dataclasses

    with make_engine() as engine:
        factory = session_factory(engine)
        seed_papers(factory)
        add_distinct_readers(factory, DISTINCT_READERS)
        settings = dataclasses.replace(load_settings({}), base_url="https://papers.example.org")
        settings = dataclasses.replace(settings, secret_key="bench-secret-0123456789")
        composer = Wiring(settings, factory).composer()
        start = time.perf_counter()
        with write_transaction(factory) as session:
            plan = plan_edition(session, pool_size=settings.edition_pool_size)
        planned = time.perf_counter()
        with factory() as session:
            jobs = [
                ClaimedDelivery(
                    d_id, plan.edition_id, seg, tuple(ids), sub, link, email, key, tv, 0, (why, fol)
                )
                for d_id, seg, ids, sub, link, email, key, tv, why, fol in session.execute(
                    select(
                        Delivery.id,
                        Delivery.segment_id,
                        Segment.paper_ids,
                        Subscriber.id,
                        Subscriber.link_id,
                        Subscriber.email,
                        Subscriber.email_key,
                        Subscriber.token_version,
                        Segment.reasons,  # as claim_batch reads them
                        Segment.followed,
                    )
                    .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
                    .join(Segment, Segment.id == Delivery.segment_id)
                    .where(Delivery.edition_id == plan.edition_id)
                    .order_by(Delivery.segment_id)
                )
            ]
        size, templates_s, messages_s = 0, 0.0, 0.0
        for job in jobs:  # each segment's template, then its (only) reader's message
            t0 = time.perf_counter()
            # the template compose() then finds made: its reasons, and feedback links
            extras = composer.extras_for(job)
            composer.template(
                job.edition_id, [str(p) for p in job.paper_ids], extras, feedback=True
            )
            t1 = time.perf_counter()
            size = max(size, len(composer.compose(job).message))
            templates_s += t1 - t0
            messages_s += time.perf_counter() - t1
        rendered = time.perf_counter()
        with factory() as session:
            distinct = session.scalar(
                select(func.count(func.distinct(Delivery.segment_id))).where(
                    Delivery.edition_id == plan.edition_id
                )
            )
    assert plan.deliveries == DISTINCT_READERS, plan
    assert distinct == plan.segments == DISTINCT_READERS, (distinct, plan.segments)
    assert composer.compiles == 1
    return {
        "segments": plan.segments,
        "plan_s": planned - start,
        "render_s": rendered - planned,  # templates_s + messages_s + the job query
        "templates_s": templates_s,  # compile once + assemble + MessageTemplate per segment
        "messages_s": messages_s,  # tokens, MIME encoding and splice of each segment's reader
        "total_s": rendered - start,
        "largest_message_bytes": size,
    }


# --- (b) + (c) sending to smtp-sink --------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_sink() -> Iterator[int]:
    """Postfix's smtp-sink on a free loopback port (backlog 1000); yields the port."""
    port = _free_port()
    user = ["-u", "postfix"] if os.geteuid() == 0 else []  # it refuses to run as root
    sink = subprocess.Popen(
        [SINK, *user, f"127.0.0.1:{port}", "1000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if sink.poll() is not None or time.monotonic() > deadline:
                err = sink.stderr.read().decode() if sink.stderr else ""
                raise RuntimeError(f"smtp-sink did not start: {err}") from None
            time.sleep(0.05)
    try:
        yield port
    finally:
        sink.terminate()
        sink.wait(timeout=10)


def bare_smtplib_rate(port: int, message: bytes, count: int) -> float:
    """Messages/s of a plain smtplib loop over one connection (the ceiling for Python)."""
    with smtplib.SMTP("127.0.0.1", port, local_hostname="bench", timeout=30) as smtp:
        start = time.perf_counter()
        for _ in range(count):
            smtp.sendmail("digest@paperround.example.org", ["reader@bench.example.net"], message)
        return count / (time.perf_counter() - start)


def send_run(readers: int, port: int, sample: Path, store: str = "sqlite") -> dict[str, Any]:
    """bench/digest_run.py in a fresh process: its peak RSS is this run's alone."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.digest_run", str(readers), str(port), str(sample), store],
        capture_output=True,
        check=False,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.digest_run failed: {done.stderr.decode()[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    result["msgs_per_s"] = result["sent"] / result["send_s"]
    return result


SEND_STORES = ("sqlite", "postgresql")


def run(repeat: int = 3, send_repeat: int = 5) -> dict[str, Any]:
    results: dict[str, Any] = {"distinct_readers": DISTINCT_READERS}
    sqlite_runs = [_plan_and_render(sqlite_engine) for _ in range(repeat)]
    results["sqlite_plan_render"] = sqlite_runs
    results["sqlite_plan_render_median_s"] = statistics.median(r["total_s"] for r in sqlite_runs)
    try:
        pg = _plan_and_render(postgres_engine)
        results["postgresql_plan_render"] = [pg]
        results["postgresql_plan_render_median_s"] = pg["total_s"]
    except Exception as exc:  # PostgreSQL is optional here: the figure is "if available"
        results["postgresql_plan_render_error"] = f"{type(exc).__name__}: {exc}"

    # Each store's send runs next to a bare loop right after it (interleaved, so load changes
    # hit both alike); a store's ratio is the median of its sends over the median of the
    # bare runs paired with them.
    stores = SEND_STORES if "postgresql_plan_render" in results else SEND_STORES[:1]
    sends: dict[str, list[dict[str, Any]]] = {store: [] for store in stores}
    bares: dict[str, list[float]] = {store: [] for store in stores}
    with smtp_sink() as port, tempfile.TemporaryDirectory() as folder:
        sample = Path(folder) / "sample.eml"
        for _ in range(send_repeat):
            for store in stores:
                sends[store].append(send_run(SEND_READERS, port, sample, store))
                bares[store].append(bare_smtplib_rate(port, sample.read_bytes(), BARE_MESSAGES))
        small = send_run(RSS_SIZES[0], port, sample)
    results["send_readers"] = SEND_READERS
    results["send_stores"] = list(stores)
    for store in stores:
        prefix = "" if store == "sqlite" else f"{store}_"  # sqlite keeps its old key names
        send_median = statistics.median(r["msgs_per_s"] for r in sends[store])
        bare_median = statistics.median(bares[store])
        results[f"{prefix}send_runs"] = sends[store]
        results[f"{prefix}bare_rates"] = bares[store]
        results[f"{prefix}send_median_msgs_per_s"] = send_median
        results[f"{prefix}bare_median_msgs_per_s"] = bare_median
        results[f"{prefix}send_ratio"] = send_median / bare_median
    results["message_bytes"] = sends["sqlite"][0]["message_bytes"]
    results["peak_rss_mb"] = {
        RSS_SIZES[0]: small["peak_rss_mb"],
        RSS_SIZES[1]: max(r["peak_rss_mb"] for r in sends["sqlite"]),
    }
    return results


def report(results: dict[str, Any]) -> str:
    sq = results["sqlite_plan_render"]
    lines = [
        f"(a) Plan + render an edition for {results['distinct_readers']:,} readers with "
        f"{sq[0]['segments']:,} distinct selections (one MJML compile, then a template and a "
        "message per segment); target < 10 s:",
        "",
        "| store | plan s | templates s | + one message per segment s | total s (median) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name in ("sqlite", "postgresql"):
        runs = results.get(f"{name}_plan_render")
        if runs:
            mid = sorted(runs, key=lambda r: r["total_s"])[len(runs) // 2]
            lines.append(
                f"| {name} | {mid['plan_s']:.2f} | {mid['templates_s']:.2f} | "
                f"{mid['messages_s']:.2f} | "
                f"{results[f'{name}_plan_render_median_s']:.2f} |"
            )
    if "postgresql_plan_render_error" in results:
        lines.append(f"| postgresql | not run: {results['postgresql_plan_render_error']} | | | |")
    lines += [
        "",
        f"(b) Sending {results['send_readers']:,} readers ({results['message_bytes']:,}-byte "
        "messages) to Postfix smtp-sink on loopback, medians; targets: >= 0.92 of the bare "
        "loop on SQLite, >= 0.80 on PostgreSQL:",
        "",
        "| store | bare smtplib msgs/s | `send_edition` msgs/s | ratio | pairs (send / bare) |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for store in results.get("send_stores", ["sqlite"]):
        prefix = "" if store == "sqlite" else f"{store}_"
        pairs = "; ".join(
            f"{r['msgs_per_s']:,.0f} / {b:,.0f} = {r['msgs_per_s'] / b:.2f}"
            for r, b in zip(
                results[f"{prefix}send_runs"], results[f"{prefix}bare_rates"], strict=True
            )
        )
        lines.append(
            f"| {store} | {results[f'{prefix}bare_median_msgs_per_s']:,.0f} | "
            f"{results[f'{prefix}send_median_msgs_per_s']:,.0f} | "
            f"{results[f'{prefix}send_ratio']:.2f} | {pairs} |"
        )
    lines += [
        "",
        "The bare loop sends one pre-built message over one connection; `send_edition` claims,",
        "composes, marks, sends and settles each message (one commit per message).",
        "",
        "(c) Peak RSS (VmHWM) of plan + send in a fresh process; target flat, < 300 MB:",
        "",
        "| readers | peak RSS MB |",
        "| ---: | ---: |",
    ]
    for readers, mb in results["peak_rss_mb"].items():
        lines.append(f"| {int(readers):,} | {mb:.0f} |")
    return "\n".join(lines)
