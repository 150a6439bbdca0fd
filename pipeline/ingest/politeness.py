"""Taking turns per host: at most one request per interval to each host, across workers.

arXiv asks API clients for one request every three seconds; other hosts deserve a pause too.
Every request first reserves its turn: the host's next free slot is moved one interval on,
and the caller sleeps until the slot it got. Reservations live

- in Redis when the broker is Redis, so every worker process (and machine) shares one queue
  per host; the slot is moved in one Lua script on the Redis clock, so clocks of different
  machines never disagree. Redis trouble falls back to this process's own turns, logged;
- in this process otherwise (thread-safe): right for the embedded default and the CLI.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)


class HostTurns(Protocol):
    def reserve(self, host: str, interval: float) -> float:
        """Take the next turn on `host`; returns the seconds to wait before using it."""
        ...


class MemoryTurns:
    """Turns kept in this process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._next_free: dict[str, float] = {}

    def reserve(self, host: str, interval: float) -> float:
        now = self._clock()
        with self._lock:
            start = max(now, self._next_free.get(host, now))
            self._next_free[host] = start + interval
        return start - now


# KEYS[1]: the host's slot; ARGV[1]: the interval in microseconds. Returns the wait, in µs.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local start = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local nxt = start + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%d', nxt), 'PX', math.ceil((nxt - now) / 1000) + 1000)
return start - now
"""


class RedisTurns:
    """Turns shared through Redis by every process using the same key prefix."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self._client.register_script(_RESERVE)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._prefix = prefix
        self._fallback = MemoryTurns()

    def reserve(self, host: str, interval: float) -> float:
        try:
            wait = self._script(keys=[self._prefix + host], args=[int(interval * 1_000_000)])
        except self._errors as exc:
            log.warning("host turns fall back to this process: Redis unavailable (%s)", exc)
            return self._fallback.reserve(host, interval)
        return max(0.0, int(wait) / 1_000_000)

    def close(self) -> None:
        self._client.close()
