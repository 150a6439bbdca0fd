"""The app under waitress, its production server, over real sockets on 127.0.0.1."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.support.world import add_readers
from tests.workers.web.conftest import SiteMaker
from tests.workers.web.site import CSRF_RE, served


def test_subscribe_confirm_and_one_click_over_waitress(site_maker: SiteMaker, store: Any) -> None:
    site = site_maker(store)
    with served(site.app) as url, httpx.Client(base_url=url, timeout=10) as browser:
        home = browser.get("/")
        assert home.status_code == 200
        assert home.headers["server"] == "paperround"  # the server `paperround web` runs
        assert "frame-ancestors 'none'" in home.headers["content-security-policy"]
        token = CSRF_RE.search(home.text).group(1)  # type: ignore[union-attr]
        posted = browser.post(
            "/subscribe",
            data={"email": "live@example.org", "csrf_token": token, "cadence": "daily"},
        )
        assert posted.status_code == 303
        [mail] = site.mails_to("live@example.org")
        confirm = site.link(mail, "confirm")
        page = browser.get(confirm)
        assert page.status_code == 200 and "Confirm my subscription" in page.text
        assert site.reader("live@example.org").status == "pending"  # type: ignore[union-attr]
        button = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
        confirmed = browser.post(confirm, data={"csrf_token": button})
        assert confirmed.status_code == 200 and "Welcome" in confirmed.text

        # RFC 8058: a mail provider POSTs to the List-Unsubscribe URL, no cookies, no token.
        reader = site.reader("live@example.org")
        assert reader is not None
        unsub = urlsplit(site.links.unsubscribe(reader.link_id, 1)).path
        one_click = httpx.post(
            url + unsub,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=10,
        )
        assert one_click.status_code == 200
        assert site.reader("live@example.org").status == "unsubscribed"  # type: ignore[union-attr]

        forged = browser.get("/unsubscribe/WzEsMV0.forged.AAAA")
        assert forged.status_code == 400 and "This link does not work" in forged.text
        no_csrf = httpx.post(url + "/subscribe", data={"email": "x@example.org"}, timeout=10)
        assert no_csrf.status_code == 400


def test_waitress_refuses_oversized_bodies(site_maker: SiteMaker, sqlite_store: Any) -> None:
    site = site_maker(sqlite_store)
    add_readers(site.sessions, 1)
    with served(site.app) as url:
        big = httpx.post(
            url + "/api/subscribe",
            content=b"{" + b" " * 100_000 + b"}",
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert big.status_code == 413
        host, port = urlsplit(url).hostname, urlsplit(url).port
        # A declared length over the limit is refused before the body is even sent.
        with socket.create_connection((host, port), timeout=10) as raw:
            raw.sendall(
                b"POST /subscribe HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
            )
            assert raw.recv(200).startswith(b"HTTP/1.1 413")
