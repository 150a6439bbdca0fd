"""Applying pipeline.ratelimit to requests: who the client is and what to answer when over."""

from __future__ import annotations

from flask import request

from pipeline.ratelimit import Decision, key_for
from workers.web.context import web


class RateLimited(Exception):
    def __init__(self, decision: Decision) -> None:
        super().__init__("rate limited")
        self.retry_after = decision.retry_after


def client_ip() -> str:
    """The peer address; behind `web_trusted_proxies` proxies ProxyFix has already put the
    client's address from X-Forwarded-For here (docs/web.md)."""
    return request.remote_addr or "unknown"


def limit_ip() -> None:
    w = web()
    decision = w.limiter.hit(
        key_for("ip", client_ip()), w.settings.web_rate_per_ip, w.settings.web_rate_window_seconds
    )
    if not decision.allowed:
        raise RateLimited(decision)


def limit_address(email: str) -> None:
    """Counted for every address alike, known or not, so hitting it reveals nothing."""
    w = web()
    decision = w.limiter.hit(
        key_for("address", email.casefold()),
        w.settings.web_rate_per_address,
        w.settings.web_rate_window_seconds,
    )
    if not decision.allowed:
        raise RateLimited(decision)
