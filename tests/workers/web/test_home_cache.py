"""The home page's sample is ranked once per ingestion however many visitors arrive at once,
and nothing else waits for it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from pipeline.ranking.top import top_trending
from tests.support.world import seed_papers
from tests.workers.web.site import Site, served
from workers.web import home
from workers.web.context import TtlCache


def _until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_missing_value_is_made_once_while_others_wait() -> None:
    cache = TtlCache(ttl=60)
    calls: list[str] = []
    release = threading.Event()

    def make() -> str:
        calls.append("made")
        release.wait(10)
        return "value"

    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get("key", make))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    _until(lambda: calls)
    time.sleep(0.2)  # the other seven have reached the cache by now
    assert cache.get("other", lambda: "not blocked") == "not blocked"  # other keys never wait
    assert results == []
    release.set()
    for thread in threads:
        thread.join(10)
    assert results == ["value"] * 8 and calls == ["made"]
    assert cache.get("key", lambda: "made again") == "value"


def test_values_not_kept_and_failures_are_made_again() -> None:
    cache = TtlCache(ttl=60)
    assert cache.get(1, lambda: None, keep=lambda v: v is not None) is None
    assert cache.get(1, lambda: "found", keep=lambda v: v is not None) == "found"
    assert cache.get(1, lambda: "later") == "found"

    def broken() -> str:
        raise RuntimeError("ranking failed")

    with pytest.raises(RuntimeError):
        cache.get(2, broken)
    assert cache.get(2, lambda: "recovered") == "recovered"


def test_concurrent_first_visits_rank_once_and_healthz_does_not_wait(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_papers(site.sessions, n=12)
    ranked: list[int] = []
    gate = threading.Event()
    real = top_trending

    def slow_ranking(*args: Any, **kwargs: Any) -> Any:
        ranked.append(1)
        gate.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(home, "top_trending", slow_ranking)
    with (
        served(site.app, threads=12) as url,
        ThreadPoolExecutor(8) as visitors,
    ):
        visits = [visitors.submit(httpx.get, url + "/", timeout=30) for _ in range(8)]
        _until(lambda: ranked)
        time.sleep(0.2)  # every visit is in by now, waiting for the one ranking
        health = httpx.get(url + "/healthz", timeout=5)
        assert health.status_code == 200 and health.text == "ok\n"
        assert not any(v.done() for v in visits)  # healthz answered while the ranking ran
        gate.set()
        pages = [v.result() for v in visits]
    assert ranked == [1]
    assert all(p.status_code == 200 and "Paper number 0 on" in p.text for p in pages)
