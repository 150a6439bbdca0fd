"""Fixed-window rate limits for the web doors: per client IP and per email address.

Where the counters live:
- Redis, when `broker_url` is a redis:// URL: every web process (and machine) shares them.
  One INCR + EXPIRE per hit, in a MULTI/EXEC pipeline, so a key never outlives its window.
- In-process otherwise (one `paperround web` process on the embedded default).

Fixed windows allow a burst of up to 2x the limit across a window edge; for abuse limits on a
subscribe form that is fine, and it costs one key per client instead of a sorted set.

Redis trouble fails OPEN, with a logged warning (at most one per minute): the limits defend
against floods, and the mail an attacker could trigger is still bounded by the store's
one-confirmation-per-address-per-10-minutes rule (pipeline/readers/lifecycle.py), so a Redis
outage must not take the sign-up pages down with it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

_PRUNE_EVERY = 1024  # in-process: drop expired windows after this many hits


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int  # hits in the current window, this one included
    retry_after: int  # seconds until the window resets (0 when allowed)


class Limiter(Protocol):
    def hit(self, key: str, limit: int, window: int) -> Decision:
        """Count one hit on `key`; allowed while the window's count is at most `limit`."""
        ...


def _decide(count: int, limit: int, remaining: float) -> Decision:
    if count <= limit:
        return Decision(True, count, 0)
    return Decision(False, count, max(1, int(remaining + 0.999)))


class MemoryLimiter:
    """Counters in this process (thread-safe): right for a single web process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window end, count)
        self._hits = 0

    def hit(self, key: str, limit: int, window: int) -> Decision:
        now = self._clock()
        with self._lock:
            self._hits += 1
            if self._hits % _PRUNE_EVERY == 0:
                self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
            end, count = self._windows.get(key, (0.0, 0))
            if end <= now:
                end, count = now + window, 0
            count += 1
            self._windows[key] = (end, count)
        return _decide(count, limit, end - now)


class RedisLimiter:
    """Counters in Redis, shared by every web process; fails open on Redis errors."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        # Short timeouts: a slow Redis must not stall every page (it fails open instead).
        self._client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._prefix = prefix
        self._last_warning = 0.0

    def hit(self, key: str, limit: int, window: int) -> Decision:
        name = self._prefix + key
        try:
            pipe = self._client.pipeline(transaction=True)
            pipe.incr(name)
            pipe.expire(name, window, nx=True)  # NX: the first hit of a window sets its end
            pipe.ttl(name)
            count, _set, ttl = pipe.execute()
        except self._errors as exc:
            self._warn(exc)
            return Decision(True, 0, 0)
        return _decide(int(count), limit, float(ttl if ttl and ttl > 0 else window))

    def _warn(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._last_warning >= 60:
            self._last_warning = now
            log.warning("rate limits are off: Redis unavailable (%s); failing open", exc)

    def close(self) -> None:
        self._client.close()


def key_for(kind: str, value: str) -> str:
    """A bounded, opaque counter name: addresses and IPs are not stored in Redis in clear."""
    digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return f"{kind}:{digest}"
