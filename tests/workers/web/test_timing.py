"""Subscribing answers in the same time whatever the address's state: no enumeration by timing."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.world import add_readers
from tests.workers.web.conftest import SiteMaker
from tests.workers.web.site import Site

PER_KIND = 50
KINDS = ("unknown", "active", "pending", "unsubscribed")
TOLERANCE = 0.15  # of the median of all requests
ROUNDS = 3


def _poster(site: Site, endpoint: str) -> Callable[[str], int]:
    client = site.client()
    token = site.csrf(client)

    def post(address: str) -> int:
        if endpoint == "/subscribe":
            form = {"email": address, "csrf_token": token, "cadence": "daily"}
            return client.post(endpoint, data=form).status_code
        return client.post(endpoint, json={"email": address}).status_code

    return post


def _medians(site: Site, post: Callable[[str], int], round_no: int) -> dict[str, float]:
    """One round: 50 fresh addresses of each kind, in one shuffled sequence."""
    status = {"active": "active", "pending": "pending", "unsubscribed": "unsubscribed"}
    for kind, state in status.items():
        add_readers(site.sessions, PER_KIND, domain=f"{kind}{round_no}.example", status=state)
    order = [(k, f"reader{i}@{k}{round_no}.example") for k in KINDS for i in range(PER_KIND)]
    random.Random(round_no).shuffle(order)
    samples: dict[str, list[float]] = {k: [] for k in KINDS}
    for kind, address in order:
        began = time.perf_counter()
        answer = post(address)
        samples[kind].append(time.perf_counter() - began)
        assert answer in (202, 303)
        site.drain()  # outside the timing: each sample is one request, not its predecessor's
    return {k: statistics.median(v) for k, v in samples.items()}


@pytest.mark.parametrize("endpoint", ["/subscribe", "/api/subscribe"])
def test_subscribe_takes_the_same_time_for_known_and_unknown_addresses(
    site_maker: SiteMaker, store: Any, endpoint: str
) -> None:
    """50 requests each for unknown, active, pending and unsubscribed addresses through the
    app; each kind's median latency must be within 15% of the unknown kind's, relative to the
    median of all requests.

    Why this statistic: the median ignores the outliers a loaded machine produces (a GC
    pause, a descheduled thread, another suite's burst), and shuffling the four kinds into
    one sequence spreads any slow spell over all of them, so a difference between medians is
    the work a request does, not when it ran. Doing the lookup in the request costs a known
    address 15-40% less than a new one (no insert, no commit); the same path for every
    address measures within ~4%. 15% sits between the two. A real difference shows in every
    round; noise rarely shows in three rounds in a row, so the test passes on the first of
    up to three rounds that is within tolerance.
    """
    site = site_maker(store, web_rate_per_ip=1_000_000, web_rate_per_address=1_000)
    post = _poster(site, endpoint)
    for i in range(10):  # templates compiled, pools warm
        post(f"warm{i}@warm.example")
    site.drain()
    rounds = []
    for round_no in range(ROUNDS):
        medians = _medians(site, post, round_no)
        overall = statistics.median(medians.values())
        gaps = {k: abs(medians[k] - medians["unknown"]) / overall for k in KINDS}
        rounds.append({k: f"{v * 1000:.3f} ms ({gaps[k]:.0%})" for k, v in medians.items()})
        if max(gaps.values()) <= TOLERANCE:
            break
    else:
        pytest.fail(f"known and unknown addresses answer at different speeds: {rounds}")
    # The work was done, in the background: the new readers exist, the known ones kept theirs.
    assert site.reader("reader0@unknown0.example") is not None
    assert site.reader("reader0@active0.example").status == "active"  # type: ignore[union-attr]
