"""Rate limits per client IP and per address, in-process and in Redis."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import redis

from tests.conftest import REDIS_PREFIX
from tests.support import unused_port
from tests.workers.web.conftest import SiteMaker
from tests.workers.web.site import Site


@pytest.fixture(params=["memory", "redis"])
def limited_site(request: pytest.FixtureRequest, site_maker: SiteMaker, sqlite_store: Any) -> Site:
    broker = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    return site_maker(
        sqlite_store,
        broker_url=broker,
        web_rate_per_ip=3,
        web_rate_per_address=2,
        web_rate_window_seconds=60,
    )


def _post(site: Site, address: str, ip: str) -> Any:
    client = site.client()
    client.environ_base["REMOTE_ADDR"] = ip
    return site.subscribe(client, address)


def test_per_ip_limit_then_429_with_retry_after(limited_site: Site) -> None:
    statuses = [_post(limited_site, f"a{i}@example.org", "10.0.0.1").status_code for i in range(4)]
    assert statuses == [303, 303, 303, 429]
    over = _post(limited_site, "a9@example.org", "10.0.0.1")
    assert over.status_code == 429
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    assert "Too many attempts" in over.get_data(as_text=True)
    assert limited_site.reader("a9@example.org") is None
    assert _post(limited_site, "b@example.org", "10.0.0.2").status_code == 303  # other client
    api = limited_site.app.test_client()
    api.environ_base["REMOTE_ADDR"] = "10.0.0.1"
    refused = api.post("/api/subscribe", json={"email": "c@example.org"})
    assert refused.status_code == 429 and refused.get_json()["error"] == "rate_limited"


def test_per_address_limit_counts_across_clients(limited_site: Site) -> None:
    statuses = [
        _post(limited_site, "Target@Example.org", f"10.1.0.{i}").status_code for i in range(3)
    ]
    assert statuses == [303, 303, 429]  # case-insensitive: one address


def test_redis_limits_are_shared_between_app_instances(
    site_maker: SiteMaker, sqlite_store: Any, redis_url: str
) -> None:
    one, two = (site_maker(sqlite_store, broker_url=redis_url, web_rate_per_ip=2) for _ in range(2))
    assert _post(one, "x1@example.org", "10.2.0.1").status_code == 303
    assert _post(two, "x2@example.org", "10.2.0.1").status_code == 303
    assert _post(one, "x3@example.org", "10.2.0.1").status_code == 429
    keys: list[bytes] = redis.Redis.from_url(redis_url).keys(REDIS_PREFIX + "rl:*")  # type: ignore[assignment]
    assert keys and all(b"10.2.0.1" not in k and b"@" not in k for k in keys)  # hashed


def test_redis_down_fails_open_with_a_warning(
    site_maker: SiteMaker, sqlite_store: Any, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"redis://127.0.0.1:{unused_port()}/0"
    site = site_maker(sqlite_store, broker_url=dead, web_rate_per_ip=1)
    with caplog.at_level(logging.WARNING, logger="pipeline.ratelimit"):
        assert [_post(site, f"d{i}@example.org", "10.3.0.1").status_code for i in range(3)] == [
            303,
            303,
            303,
        ]
    warnings = [r for r in caplog.records if "failing open" in r.getMessage()]
    assert len(warnings) == 1  # logged once, not once per request
