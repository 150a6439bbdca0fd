"""The scheduler lock: a second holder is told no, on both backends."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pipeline.locks import FileLocks, Locks, RedisLocks
from pipeline.settings import load_settings
from pipeline.wiring import Wiring
from tests.conftest import REDIS_PREFIX


def _check(locks: Locks) -> None:
    with locks.hold("plan_due") as first:
        assert first
        with locks.hold("plan_due") as second:
            assert not second
        with locks.hold("other_job") as other:
            assert other  # locks are per name
    with locks.hold("plan_due") as again:
        assert again  # released on exit


def test_file_lock_on_embedded_defaults(tmp_path: Path) -> None:
    _check(FileLocks(tmp_path / "locks"))


@pytest.mark.redis
def test_redis_lock(redis_url: str) -> None:
    _check(RedisLocks(redis_url, REDIS_PREFIX))


def test_wiring_picks_the_backend_from_the_broker(tmp_path: Path, redis_url: str) -> None:
    base = dataclasses.replace(load_settings({}), data_dir=tmp_path)
    assert isinstance(Wiring(base).locks, FileLocks)
    on_redis = dataclasses.replace(base, broker_url=redis_url, redis_key_prefix=REDIS_PREFIX)
    locks = Wiring(on_redis).locks
    assert isinstance(locks, RedisLocks) and locks.prefix == REDIS_PREFIX
