"""The scheduler lock: a second holder is told no, on both backends."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pipeline.locks import exclusive
from pipeline.settings import Settings, load_settings


def _settings(tmp_path: Path, broker: str = "") -> Settings:
    return dataclasses.replace(load_settings({}), data_dir=tmp_path, broker_url=broker)


def _check(settings: Settings) -> None:
    with exclusive(settings, "plan_due") as first:
        assert first
        with exclusive(settings, "plan_due") as second:
            assert not second
        with exclusive(settings, "other_job") as other:
            assert other  # locks are per name
    with exclusive(settings, "plan_due") as again:
        assert again  # released on exit


def test_file_lock_on_embedded_defaults(tmp_path: Path) -> None:
    _check(_settings(tmp_path))


def test_redis_lock(tmp_path: Path, redis_url: str) -> None:
    _check(_settings(tmp_path, redis_url))
