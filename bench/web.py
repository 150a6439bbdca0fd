"""Web benchmarks against `paperround web` (waitress, the production server) on loopback.

(a) Subscribe requests per second (issue: subscription pages). Each run starts a fresh
    SQLite store and `paperround web` in a subprocess, a Postfix `smtp-sink` for the
    confirmation mails, then a few client threads POST the subscribe form (with their CSRF
    cookie and token, like a browser) for distinct new addresses. Rate limits are raised
    through settings so the benchmark measures the service, not the limiter.
(b) The home page on a busy day (hardening: the home page costs the papers it shows). A store
    holds 70,000 papers first seen in the last 24 hours (hourly ingestions, so thousands share
    an instant; 2% carry upvotes, snapshots and a second source; 1% were published after they
    were first seen). Each run starts `paperround web` (cold cache), then 8 clients ask for
    the home page at the same moment while another polls /healthz. Target: every one of the
    8 first visits answers in under 1 s, on SQLite and on PostgreSQL. For reference, the same
    top 5 ranked the old way (`ranked_papers`: every paper of the window) in-process.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, insert, select

from bench.common import postgres_engine, sqlite_engine
from pipeline.ranking import ranked_papers, top_trending
from pipeline.store.db import session_factory, write_transaction
from pipeline.store.models import Paper, Sighting, Source, UpvoteSnapshot

REQUESTS = 2_000
CLIENTS = 4
RUNS = 3
HOME_PAPERS = 70_000
HOME_VISITORS = 8
HOME_RUNS = 3
HOME_TARGET_S = 1.0
SMTP_SINK = "/usr/sbin/smtp-sink"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {timeout:.0f} s")


def _client(base: str, start: int, count: int, statuses: list[int]) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        token = _CSRF.search(client.get("/").text).group(1)  # type: ignore[union-attr]
        for i in range(start, start + count):
            response = client.post(
                "/subscribe",
                data={"email": f"bench{i}@example.net", "csrf_token": token, "cadence": "daily"},
            )
            statuses.append(response.status_code)


def _wait_for_readers(db: Path, count: int, timeout: float = 300.0) -> None:
    """Until the background has recorded every request (the page answered before that)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(db, timeout=30) as conn:
            if conn.execute("SELECT count(*) FROM subscribers").fetchone()[0] >= count:
                return
        time.sleep(0.05)
    raise RuntimeError(f"the subscribe requests were not all recorded within {timeout:.0f} s")


def _one_run(requests: int, clients: int) -> tuple[float, float]:
    if not Path(SMTP_SINK).exists():
        raise RuntimeError(f"{SMTP_SINK} is missing: run `make system-deps` (Debian postfix)")
    paperround = str(Path(sys.executable).with_name("paperround"))
    with tempfile.TemporaryDirectory(prefix="paperround-bench-web-") as folder:
        smtp_port, web_port = _free_port(), _free_port()
        env = dict(
            os.environ,
            PAPERROUND_DATA_DIR=folder,
            PAPERROUND_DATABASE_URL=f"sqlite:///{folder}/bench.db",
            PAPERROUND_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
            PAPERROUND_SECRET_KEY="bench-secret-key-0123456789",
            PAPERROUND_BASE_URL=f"http://127.0.0.1:{web_port}",
            PAPERROUND_BROKER_URL="",
            PAPERROUND_WEB_RATE_PER_IP="100000000",
            PAPERROUND_WEB_RATE_PER_ADDRESS="1000",
        )
        subprocess.run([paperround, "init"], env=env, check=True, capture_output=True)
        as_root = ["-u", "nobody"] if os.geteuid() == 0 else []  # smtp-sink refuses root
        sink = subprocess.Popen([SMTP_SINK, *as_root, f"127.0.0.1:{smtp_port}", "256"])
        web = subprocess.Popen(
            [paperround, "web", "--port", str(web_port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{web_port}"
            _wait_for(base + "/healthz")
            statuses: list[int] = []
            share = requests // clients
            threads = [
                threading.Thread(target=_client, args=(base, n * share, share, statuses))
                for n in range(clients)
            ]
            began = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            answered = time.perf_counter() - began
            bad = [s for s in statuses if s != 303]
            if len(statuses) != share * clients or bad:
                raise RuntimeError(f"{len(bad)} subscribe requests failed: {sorted(set(bad))}")
            _wait_for_readers(Path(folder) / "bench.db", share * clients)
            recorded = time.perf_counter() - began
            return share * clients / answered, share * clients / recorded
        finally:
            for process in (web, sink):
                process.terminate()
                process.wait(timeout=10)


def _subscribe_rates(requests: int, clients: int, runs: int) -> dict[str, Any]:
    pairs = [_one_run(requests, clients) for _ in range(runs)]
    rates = [answered for answered, _ in pairs]
    recorded = [done for _, done in pairs]
    return {
        "requests": requests,
        "clients": clients,
        "runs": runs,
        "server": "waitress (paperround web), SQLite store, smtp-sink",
        "subscribe_per_s": statistics.median(rates),
        "samples_per_s": rates,
        "recorded_per_s": statistics.median(recorded),
        "recorded_samples_per_s": recorded,
        "smtp_sink": shutil.which("smtp-sink") or SMTP_SINK,
    }


def _subscribe_report(results: dict[str, Any]) -> str:
    samples = ", ".join(f"{r:,.0f}" for r in results["samples_per_s"])
    recorded = ", ".join(f"{r:,.0f}" for r in results["recorded_samples_per_s"])
    return "\n".join(
        [
            f"Subscribe form POSTs (new addresses, CSRF token) against `paperround web` on "
            f"loopback: {results['requests']:,} requests from {results['clients']} client "
            f"threads, median of {results['runs']} runs. Answered: the pages returned (the "
            f"request is queued); recorded: every reader row written by the background "
            f"(the confirmation mails follow on the same threads).",
            "",
            "| server | answered requests/s | runs | recorded requests/s | runs |",
            "| --- | ---: | --- | ---: | --- |",
            f"| {results['server']} | {results['subscribe_per_s']:,.0f} | {samples} "
            f"| {results['recorded_per_s']:,.0f} | {recorded} |",
        ]
    )


# --- (b) the home page on a busy day ---------------------------------------------------------


def _seed_busy_day(engine: Engine, papers: int, now: datetime) -> None:
    """`papers` first seen in the last day, written in bulk (the shape, not the ingest path)."""
    rng = random.Random(20261208)
    sessions = session_factory(engine)
    with write_transaction(sessions) as session:
        sources = [
            session.execute(
                insert(Source)
                .values(name=name, kind=kind, url=f"https://example.org/{name}", created_at=now)
                .returning(Source.id)
            ).scalar_one()
            for name, kind in (("arxiv", "arxiv-rss"), ("hf", "hf-daily"))
        ]
        rows: list[dict[str, Any]] = []
        for i in range(papers):
            seen = now - timedelta(hours=i % 24, minutes=5)  # 24 hourly ingestions
            voted = i % 50 == 0
            published = seen + timedelta(minutes=30) if i % 100 == 7 else seen - timedelta(hours=6)
            rows.append(
                {
                    "key": f"arxiv:2612.{i:05d}",
                    "arxiv_id": f"2612.{i:05d}",
                    "title": f"A study of sparse experts, number {i}",
                    "abstract": "We study routing in mixtures of experts. " * 25,
                    "authors": [f"Author {k} Surname{i}" for k in range(6)],
                    "categories": ["cs.LG", "cs.CL"],
                    "links": {"abs": f"https://arxiv.org/abs/2612.{i:05d}"},
                    "upvotes": int(400 * rng.random() ** 3) if voted else 0,
                    "first_seen_at": seen,
                    "listed_at": seen,
                    "updated_at": seen,
                    "published_at": published,
                }
            )
        ids: list[int] = []
        for start in range(0, papers, 5_000):
            ids.extend(
                session.scalars(
                    insert(Paper).returning(Paper.id, sort_by_parameter_order=True),
                    rows[start : start + 5_000],
                )
            )
        sightings = [
            {"paper_id": pid, "source_id": sources[0], "first_seen_at": now, "last_seen_at": now}
            for pid in ids
        ]
        voted_ids = [(pid, int(rows[j]["upvotes"])) for j, pid in enumerate(ids) if j % 50 == 0]
        sightings += [
            {
                "paper_id": pid,
                "source_id": sources[1],
                "upvotes": up,
                "first_seen_at": now,
                "last_seen_at": now,
            }
            for pid, up in voted_ids
        ]
        for start in range(0, len(sightings), 5_000):
            session.execute(insert(Sighting), sightings[start : start + 5_000])
        session.execute(
            insert(UpvoteSnapshot),
            [
                {
                    "paper_id": pid,
                    "source_id": sources[1],
                    "upvotes": up // 3,
                    "observed_at": now - timedelta(hours=30),
                }
                for pid, up in voted_ids
            ],
        )


@contextmanager
def _web(database_url: str, folder: str) -> Iterator[str]:
    """`paperround web` (default threads) on a free port; yields its URL once it answers."""
    paperround = str(Path(sys.executable).with_name("paperround"))
    port = _free_port()
    env = dict(
        os.environ,
        PAPERROUND_DATA_DIR=folder,
        PAPERROUND_DATABASE_URL=database_url,
        PAPERROUND_SMTP_URL="smtp://127.0.0.1:9",
        PAPERROUND_SECRET_KEY="bench-secret-key-0123456789",
        PAPERROUND_BASE_URL=f"http://127.0.0.1:{port}",
        PAPERROUND_BROKER_URL="",
    )
    web = subprocess.Popen(
        [paperround, "web", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base + "/healthz")
        yield base
    finally:
        web.terminate()
        web.wait(timeout=10)


def _burst(base: str, visitors: int) -> tuple[list[float], list[float]]:
    """`visitors` first visits at one moment, and /healthz polled meanwhile: latencies."""
    start = threading.Barrier(visitors + 1)
    visits: list[float] = []
    health: list[float] = []
    done = threading.Event()

    def visit() -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            start.wait()
            began = time.perf_counter()
            page = client.get("/")
            visits.append(time.perf_counter() - began)
            if page.status_code != 200 or "A study of sparse experts" not in page.text:
                raise RuntimeError(f"home page answered {page.status_code} without papers")

    def poll() -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            start.wait()
            while not done.is_set():
                began = time.perf_counter()
                client.get("/healthz")
                health.append(time.perf_counter() - began)
                time.sleep(0.005)

    threads = [threading.Thread(target=visit) for _ in range(visitors)]
    poller = threading.Thread(target=poll)
    for thread in [*threads, poller]:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    poller.join()
    if len(visits) != visitors:
        raise RuntimeError("a home page visit failed")
    return visits, health


def _home_store(name: str, make: Callable[[], AbstractContextManager[Engine]]) -> dict[str, Any]:
    now = datetime.now(UTC)
    with make() as engine, tempfile.TemporaryDirectory(prefix="paperround-bench-home-") as folder:
        _seed_busy_day(engine, HOME_PAPERS, now)
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
        with session_factory(engine)() as session:
            since = now - timedelta(days=1)
            began = time.perf_counter()
            full = ranked_papers(session, top=5, since=since, now=now)
            full_s = time.perf_counter() - began
            began = time.perf_counter()
            fast = top_trending(session, 5, since=since, now=now)
            fast_s = time.perf_counter() - began
            if fast != full:
                raise RuntimeError("top_trending and ranked_papers disagree")
            window = len(session.scalars(select(Paper.id).where(Paper.listed_at >= since)).all())
        url = engine.url.render_as_string(hide_password=False)
        runs = []
        for _ in range(HOME_RUNS):
            with _web(url, folder) as base:
                visits, health = _burst(base, HOME_VISITORS)
            runs.append({"visits_s": sorted(visits), "healthz_s": sorted(health)})
    slowest = [max(r["visits_s"]) for r in runs]
    return {
        "store": name,
        "papers_in_window": window,
        "full_ranking_s": full_s,
        "top_trending_s": fast_s,
        "slowest_first_visit_s": max(slowest),
        "median_first_visit_s": statistics.median(v for r in runs for v in r["visits_s"]),
        "slowest_healthz_s": max(max(r["healthz_s"], default=0.0) for r in runs),
        "healthz_samples": sum(len(r["healthz_s"]) for r in runs),
        "runs": runs,
        "target_met": max(slowest) < HOME_TARGET_S,
    }


def _home_report(results: list[dict[str, Any]]) -> str:
    lines = [
        f"Home page, cold cache, {HOME_VISITORS} first visits at once, {HOME_PAPERS:,} papers "
        f"first seen in the last day, `paperround web` (default 8 threads); "
        f"{HOME_RUNS} runs each (target: every first visit < {HOME_TARGET_S:.0f} s):",
        "",
        "| store | slowest first visit s | median first visit s | slowest /healthz s "
        "| top 5 via top_trending s | via ranked_papers (old) s | target |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['store']} | {r['slowest_first_visit_s']:.3f} | {r['median_first_visit_s']:.3f} "
            f"| {r['slowest_healthz_s']:.3f} | {r['top_trending_s']:.3f} "
            f"| {r['full_ranking_s']:.2f} | {'met' if r['target_met'] else 'MISSED'} |"
        )
    return "\n".join(lines)


def run(requests: int = REQUESTS, clients: int = CLIENTS, runs: int = RUNS) -> dict[str, Any]:
    home = [
        _home_store("sqlite", sqlite_engine),
        _home_store("postgresql", postgres_engine),
    ]
    return {"subscribe": _subscribe_rates(requests, clients, runs), "home": home}


def report(results: dict[str, Any]) -> str:
    return _subscribe_report(results["subscribe"]) + "\n\n" + _home_report(results["home"])
