"""Real service processes for tests: Celery workers and beat, a private redis-server.

Each runs in its own session (process group) so a test can SIGKILL a worker together with
its pool children, the way a machine losing power would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import redis

from tests.conftest import REDIS_PREFIX
from tests.support.feedserver import unused_port
from workers.supervisor import beat_argv, worker_argv

ROOT = Path(__file__).resolve().parents[2]


def service_env(
    data_dir: Path, database_url: str, broker_url: str, capture_port: int, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERROUND_")}
    env.update(
        PAPERROUND_DATA_DIR=str(data_dir),
        PAPERROUND_DATABASE_URL=database_url,
        PAPERROUND_BROKER_URL=broker_url,
        PAPERROUND_SMTP_URL="capture",
        PAPERROUND_CAPTURE_PORT=str(capture_port),
        PAPERROUND_SECRET_KEY="test-secret-key-0123456789abcdef",
        PAPERROUND_REDIS_KEY_PREFIX=REDIS_PREFIX,  # queues of this run only, on a shared Redis
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


class Proc:
    """A child process with its own process group and a log file."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self._handle = log.open("ab")
        self.process = subprocess.Popen(
            argv,
            env=dict(env),
            cwd=ROOT,
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the whole group: no clean shutdown, no acks, no goodbyes."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
        self._handle.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._handle.close()

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def celery_worker(env: Mapping[str, str], log: Path, concurrency: int = 2, name: str = "w") -> Proc:
    argv = worker_argv("ingest,plan,send", concurrency, f"{name}-{os.getpid()}")
    return Proc("worker", [*argv, "--without-gossip", "--without-mingle"], env, log)


def celery_beat(env: Mapping[str, str], log: Path, schedule: Path) -> Proc:
    return Proc("beat", beat_argv("-s", str(schedule)), env, log)


def wait_until(
    check: Callable[[], bool], timeout: float, what: str | Callable[[], str], every: float = 0.25
) -> None:
    """Poll `check`; on timeout fail naming `what` (a callable is read then, so logs passed
    that way show what happened while we waited, not what had happened before)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    described = what() if callable(what) else what
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {described}")


class RedisServer:
    """A private redis-server on a free loopback port (nothing on disk), restartable."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.binary = binary
        self.folder = folder
        self.port = unused_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)

        def up() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_until(up, 15, "redis-server to start")
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None
