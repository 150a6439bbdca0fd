"""`paperround run`: the whole service in one command, on embedded defaults or real engines.

Starts the capture SMTP server (when smtp_url = capture), a Celery worker for all queues,
Celery beat and the web app as child processes, prints where to look, and on Ctrl-C (or
SIGTERM) stops them all. If one child dies, the others are stopped too and the exit status
says which one: a half-running service is worse than a stopped one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from types import FrameType

from pipeline.settings import Settings


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None


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


def children(settings: Settings, host: str, port: int, concurrency: int) -> list[Child]:
    py = sys.executable
    found: list[Child] = []
    if settings.smtp_is_capture:
        found.append(
            Child(
                "capture",
                [
                    py,
                    "-m",
                    "workers.capture",
                    "--maildir",
                    str(settings.maildir),
                    "--port",
                    str(settings.capture_port),
                ],
            )
        )
    found += [
        Child("worker", worker_argv("ingest,plan,send", concurrency, f"paperround-{os.getpid()}")),
        Child("beat", beat_argv()),
        Child("web", [py, "-m", "workers.cli", "web", "--host", host, "--port", str(port)]),
    ]
    return found


class Supervisor:
    def __init__(self, kids: list[Child]) -> None:
        self.kids = kids
        self._stopping = False

    def _signal(self, signum: int, _frame: FrameType | None) -> None:
        self._stopping = True

    def start(self) -> None:
        for kid in self.kids:
            # Own process group: a terminal's Ctrl-C reaches us, and we stop children in order.
            kid.process = subprocess.Popen(kid.argv, start_new_session=True)

    def wait(self) -> int:
        """Block until Ctrl-C/SIGTERM or a child exits; then stop everyone. Returns the status."""
        signal.signal(signal.SIGINT, self._signal)
        signal.signal(signal.SIGTERM, self._signal)
        status = 0
        while not self._stopping:
            for kid in self.kids:
                assert kid.process is not None
                code = kid.process.poll()
                if code is not None:
                    print(
                        f"paperround: {kid.name} exited with status {code}; stopping",
                        file=sys.stderr,
                    )
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
