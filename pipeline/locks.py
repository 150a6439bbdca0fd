"""A named lock for periodic jobs, so two schedulers started by mistake do the work once.

The ledger already makes double work harmless (unique deliveries, atomic claims); the lock
makes it rare. With a Redis broker the lock lives in Redis (one for every machine); on
embedded defaults it is an flock(2) on a file under data_dir (every process of `make run`
shares the machine). The lock is never waited for: a second holder skips its run.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class Locks(Protocol):
    def hold(self, name: str, ttl: float = 600.0) -> contextlib.AbstractContextManager[bool]:
        """`with locks.hold("plan_due") as mine:` -> `mine` is False when another holds it.

        `ttl` bounds a Redis lock whose holder died; a file lock dies with its process."""
        ...


class RedisLocks:
    """Locks in Redis: one for every machine that shares the broker."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix

    @contextlib.contextmanager
    def hold(self, name: str, ttl: float = 600.0) -> Iterator[bool]:
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5)
        lock = client.lock(f"{self.prefix}lock:{name}", timeout=ttl, blocking=False)
        try:
            acquired = bool(lock.acquire())
        except redis.RedisError as exc:
            # Without Redis the broker is down too; the ledger still prevents double sends.
            log.warning("lock %s unavailable (%s); running without it", name, exc)
            acquired = True
            lock = None
        try:
            yield acquired
        finally:
            if acquired and lock is not None:
                with contextlib.suppress(redis.RedisError):
                    lock.release()
            client.close()


class FileLocks:
    """flock(2) on files in `folder`: every process of one machine (`make run`) shares them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @contextlib.contextmanager
    def hold(self, name: str, ttl: float = 600.0) -> Iterator[bool]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / f"{name}.lock").open("a") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
