"""Web benchmark (issue: subscription pages): subscribe requests per second against
`paperround web` (waitress, the production server) on loopback.

Each run starts a fresh SQLite store and `paperround web` in a subprocess, a Postfix
`smtp-sink` for the confirmation mails, then a few client threads POST the subscribe form
(with their CSRF cookie and token, like a browser) for distinct new addresses. Rate limits
are raised through settings so the benchmark measures the service, not the limiter.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

REQUESTS = 2_000
CLIENTS = 4
RUNS = 3
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


def _one_run(requests: int, clients: int) -> float:
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
            elapsed = time.perf_counter() - began
            bad = [s for s in statuses if s != 303]
            if len(statuses) != share * clients or bad:
                raise RuntimeError(f"{len(bad)} subscribe requests failed: {sorted(set(bad))}")
            return share * clients / elapsed
        finally:
            for process in (web, sink):
                process.terminate()
                process.wait(timeout=10)


def run(requests: int = REQUESTS, clients: int = CLIENTS, runs: int = RUNS) -> dict[str, Any]:
    rates = [_one_run(requests, clients) for _ in range(runs)]
    return {
        "requests": requests,
        "clients": clients,
        "runs": runs,
        "server": "waitress (paperround web), SQLite store, smtp-sink",
        "subscribe_per_s": statistics.median(rates),
        "samples_per_s": rates,
        "smtp_sink": shutil.which("smtp-sink") or SMTP_SINK,
    }


def report(results: dict[str, Any]) -> str:
    samples = ", ".join(f"{r:,.0f}" for r in results["samples_per_s"])
    return "\n".join(
        [
            f"Subscribe form POSTs (new addresses, CSRF token, confirmation mail queued) against "
            f"`paperround web` on loopback: {results['requests']:,} requests from "
            f"{results['clients']} client threads, median of {results['runs']} runs.",
            "",
            "| server | subscribe requests/s | runs |",
            "| --- | ---: | --- |",
            f"| {results['server']} | {results['subscribe_per_s']:,.0f} | {samples} |",
        ]
    )
