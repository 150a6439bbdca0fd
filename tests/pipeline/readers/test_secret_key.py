"""The generated secret key: made once, atomically, the same for every process that starts."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from pipeline.readers.links import load_or_create_secret


def _race(folder: str, queue: multiprocessing.Queue[str]) -> None:
    queue.put(load_or_create_secret("", Path(folder)))


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[str] = context.Queue()
    workers = [context.Process(target=_race, args=(str(tmp_path), queue)) for _ in range(12)]
    for worker in workers:
        worker.start()
    keys = {queue.get(timeout=30) for _ in workers}
    for worker in workers:
        worker.join(30)
    assert len(keys) == 1
    (key,) = keys
    assert len(key) >= 60 and (tmp_path / "secret_key").read_text() == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no temporary file left


def test_a_configured_key_wins_and_a_broken_file_says_what_to_do(tmp_path: Path) -> None:
    assert load_or_create_secret("configured-key-0123456789", tmp_path) == (
        "configured-key-0123456789"
    )
    assert not (tmp_path / "secret_key").exists()
    (tmp_path / "secret_key").write_text("")
    with pytest.raises(ValueError, match="delete it to make a new one"):
        load_or_create_secret("", tmp_path)
