"""pipeline.ratelimit: fixed windows in-process and in Redis (a real server)."""

from __future__ import annotations

import pytest

from pipeline.ratelimit import MemoryLimiter, RedisLimiter, key_for
from tests.conftest import REDIS_PREFIX


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_memory_window_allows_limit_then_refuses_until_reset() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock)
    decisions = [limiter.hit("k", 3, 60) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[-1].retry_after == 60
    clock.now += 30
    assert limiter.hit("k", 3, 60).retry_after == 30
    assert limiter.hit("other", 3, 60).allowed
    clock.now += 31
    assert limiter.hit("k", 3, 60).allowed  # a new window


@pytest.mark.redis
def test_redis_window_is_shared_and_expires(redis_url: str) -> None:
    prefix = REDIS_PREFIX + "rl:"
    one, two = RedisLimiter(redis_url, prefix), RedisLimiter(redis_url, prefix)
    assert one.hit("k", 2, 60).allowed and two.hit("k", 2, 60).allowed
    refused = one.hit("k", 2, 60)
    assert not refused.allowed and 1 <= refused.retry_after <= 60 and refused.count == 3
    import redis

    ttl = int(redis.Redis.from_url(redis_url).ttl(prefix + "k"))  # type: ignore[arg-type]
    assert 0 < ttl <= 60
    one.close()
    two.close()


def test_keys_are_hashed_and_bounded() -> None:
    key = key_for("address", "ann@example.org" * 100)
    assert key.startswith("address:") and len(key) == len("address:") + 32
    assert "ann" not in key
