"""Behind a reverse proxy: rate limits and the consent record see the real client, through
waitress (the production server, as `paperround web` builds it) over real sockets."""

from __future__ import annotations

from typing import Any

import httpx

from tests.workers.web.conftest import SiteMaker
from tests.workers.web.site import CSRF_RE, Site, served


def _subscribe(url: str, address: str, forwarded_for: str | None) -> httpx.Response:
    """A browser's visit through the proxy: the proxy adds the X-Forwarded-For header."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as browser:
        token = CSRF_RE.search(browser.get("/").text).group(1)  # type: ignore[union-attr]
        form = {"email": address, "csrf_token": token, "cadence": "daily"}
        return browser.post("/subscribe", data=form)


def _limited(site_maker: SiteMaker, store: Any, proxies: int) -> Site:
    return site_maker(
        store, web_trusted_proxies=proxies, web_rate_per_ip=2, web_rate_per_address=100
    )


def test_each_client_behind_the_proxy_has_its_own_counter_and_consent_ip(
    site_maker: SiteMaker, store: Any
) -> None:
    site = _limited(site_maker, store, proxies=1)
    with served(site.app) as url:
        alice = [_subscribe(url, f"alice{i}@example.org", "198.51.100.7") for i in range(3)]
        assert [r.status_code for r in alice] == [303, 303, 429]
        # Another client through the same proxy (the same socket peer) is not limited.
        bob = _subscribe(url, "bob@example.org", "203.0.113.9")
        assert bob.status_code == 303
        # A client may send its own X-Forwarded-For: the proxy appends the address it saw,
        # and only that last entry is trusted.
        forged = _subscribe(url, "carol@example.org", "198.51.100.7, 203.0.113.50")
        assert forged.status_code == 303
        api = httpx.post(
            url + "/api/subscribe",
            json={"email": "dave@example.org"},
            headers={"X-Forwarded-For": "192.0.2.44"},
            timeout=10,
        )
        assert api.status_code == 202
    consent = {a: site.reader(a).consent_ip for a in ("alice0@example.org", "bob@example.org")}  # type: ignore[union-attr]
    assert consent == {"alice0@example.org": "198.51.100.7", "bob@example.org": "203.0.113.9"}
    assert site.reader("carol@example.org").consent_ip == "203.0.113.50"  # type: ignore[union-attr]
    assert site.reader("dave@example.org").consent_ip == "192.0.2.44"  # type: ignore[union-attr]
    assert site.reader("alice2@example.org") is None  # refused, so never recorded


def test_without_a_trusted_proxy_forwarded_for_is_ignored(
    site_maker: SiteMaker, sqlite_store: Any
) -> None:
    """With web_trusted_proxies = 0 anyone can send the header: it must change nothing."""
    site = _limited(site_maker, sqlite_store, proxies=0)
    with served(site.app) as url:
        statuses = [
            _subscribe(url, f"eve{i}@example.org", f"203.0.113.{i}").status_code for i in range(3)
        ]
    assert statuses == [303, 303, 429]  # one counter: the socket peer's
    assert site.reader("eve0@example.org").consent_ip == "127.0.0.1"  # type: ignore[union-attr]
