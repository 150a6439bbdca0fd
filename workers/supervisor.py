"""`paperround run`: the whole service in one command, on embedded defaults or real engines.

Starts the capture SMTP server (when smtp_url = capture), a Celery worker for all queues,
Celery beat and the web app as child processes, and on Ctrl-C (or SIGTERM) stops them all.
If one child dies, the others are stopped too and the exit status says which one: a
half-running service is worse than a stopped one.

What a person sees is the web's request log and one "ready" block once the site answers
(workers/cli/run.py). The worker's, beat's and capture server's own output (Celery's banners
and warnings) goes to a log file each under data_dir/log/, unless `--verbose` asks for it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

from pipeline.settings import Settings


@dataclass
class Child:
    name: str
    argv: list[str]
    log: Path | None = None  # where its output goes; None: this terminal
    process: subprocess.Popen[bytes] | None = None


def port_taken(host: str, port: int) -> str | None:
    """Why `host:port` cannot be listened on (another server has it), or None when it can."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )[0]
    except socket.gaierror as exc:
        return f"cannot resolve {host!r}: {exc.strerror}"
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress and aiosmtpd
        try:
            probe.bind(address)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def worker_argv(queues: str, concurrency: int, name: str, loglevel: str = "INFO") -> list[str]:
    """The Celery worker command line (run, tests and benchmarks start workers alike)."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.jobs.app",
        "worker",
        "-Q",
        queues,
        "-c",
        str(concurrency),
        "--loglevel",
        loglevel,
        "-n",
        f"{name}@%h",
    ]


def beat_argv(*extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.jobs.app",
        "beat",
        "--loglevel",
        "INFO",
        *extra,
    ]


def children(
    settings: Settings,
    host: str,
    port: int,
    concurrency: int,
    log_dir: Path | None = None,
) -> list[Child]:
    """The processes of `paperround run`; with `log_dir`, all but the web log to a file there."""

    def log(name: str) -> Path | None:
        return log_dir / f"{name}.log" if log_dir is not None else None

    py = sys.executable
    found: list[Child] = []
    if settings.smtp_is_capture:
        capture = [py, "-m", "workers.capture", "--maildir", str(settings.maildir)]
        found.append(
            Child("capture", [*capture, "--port", str(settings.capture_port)], log("capture"))
        )
    found += [
        Child(
            "worker",
            worker_argv("ingest,plan,send", concurrency, f"paperround-{os.getpid()}"),
            log("worker"),
        ),
        Child("beat", beat_argv(), log("beat")),
        Child(
            "web",
            [py, "-m", "workers.cli", "web", "--host", host, "--port", str(port), "--no-banner"],
        ),
    ]
    return found


class Supervisor:
    def __init__(self, kids: list[Child]) -> None:
        self.kids = kids
        self._stopping = False

    def _signal(self, signum: int, _frame: FrameType | None) -> None:
        self._stopping = True

    def start(self, env: dict[str, str] | None = None) -> None:
        """Start every child (with `env` as their environment, default ours)."""
        for kid in self.kids:
            out: IO[bytes] | None = None
            if kid.log is not None:
                kid.log.parent.mkdir(parents=True, exist_ok=True)
                out = kid.log.open("ab")
            # Own process group: a terminal's Ctrl-C reaches us, and we stop children in order.
            kid.process = subprocess.Popen(
                kid.argv,
                start_new_session=True,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT if out is not None else None,
            )
            if out is not None:
                out.close()  # the child holds its own copy

    def dead(self) -> Child | None:
        """The first child that has exited, if any."""
        for kid in self.kids:
            if kid.process is not None and kid.process.poll() is not None:
                return kid
        return None

    def wait_ready(self, ready: Callable[[], bool], timeout: float) -> str:
        """Poll `ready` until it holds: "ready"; or a child exits ("died", see `dead`), Ctrl-C
        ("interrupted"), `timeout` passes ("timed out")."""
        signal.signal(signal.SIGINT, self._signal)
        signal.signal(signal.SIGTERM, self._signal)
        deadline = time.monotonic() + timeout
        while not self._stopping:
            if self.dead() is not None:
                return "died"
            if ready():
                return "ready"
            if time.monotonic() > deadline:
                return "timed out"
            time.sleep(0.2)
        return "interrupted"

    @staticmethod
    def exit_line(kid: Child) -> str:
        assert kid.process is not None
        where = f"; see {kid.log}" if kid.log is not None else ""
        return f"paperround: {kid.name} exited with status {kid.process.returncode}{where}"

    def wait(self) -> int:
        """Block until Ctrl-C/SIGTERM or a child exits; then stop everyone. Returns the status."""
        signal.signal(signal.SIGINT, self._signal)
        signal.signal(signal.SIGTERM, self._signal)
        status = 0
        while not self._stopping:
            dead = self.dead()
            if dead is not None:
                print(self.exit_line(dead) + "; stopping", file=sys.stderr)
                status = 1
                self._stopping = True
                break
            time.sleep(0.2)
        self.stop()
        return status

    def stop(self, grace: float = 15.0) -> None:
        for kid in reversed(self.kids):
            if kid.process is not None and kid.process.poll() is None:
                kid.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for kid in reversed(self.kids):
            if kid.process is None:
                continue
            try:
                kid.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(
                    f"paperround: {kid.name} did not stop in {grace:.0f} s; killing it",
                    file=sys.stderr,
                )
                os.killpg(kid.process.pid, signal.SIGKILL)
                kid.process.wait()
