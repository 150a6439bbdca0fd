"""The archive's page of an edition and a reader's "view in your browser" page: site pages with
the right date wording, published editions only, the reader's own papers and no actions."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape

import pytest
from sqlalchemy import update

from pipeline.delivery import send_edition
from pipeline.digest.pages import period_heading
from pipeline.digest.planning import plan_edition
from pipeline.readers.view_links import ViewLinks
from pipeline.store.db import write_transaction
from pipeline.store.models import Subscriber
from pipeline.store.status import Cadence
from pipeline.timeutil import utcnow
from pipeline.wiring import Wiring
from tests.support.world import add_readers, link_id_of, seed_papers
from tests.workers.web.site import Site, message_text

TUESDAY = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("cadence", "slot", "today", "heading"),
    [
        (Cadence.DAILY, TUESDAY, TUESDAY, "Today's papers"),
        (Cadence.DAILY, TUESDAY, TUESDAY + timedelta(days=1), "Yesterday's papers"),
        (Cadence.DAILY, TUESDAY, TUESDAY + timedelta(days=3), "Tuesday's papers"),
        (Cadence.DAILY, TUESDAY, TUESDAY + timedelta(days=6), "Tuesday's papers"),
        (Cadence.DAILY, TUESDAY, TUESDAY + timedelta(days=7), "Papers of Tuesday, 1 December 2026"),
        (Cadence.WEEKLY, date(2026, 11, 30), TUESDAY, "This week's papers"),
        (Cadence.WEEKLY, date(2026, 11, 30), TUESDAY + timedelta(days=7), "Last week's papers"),
        (Cadence.WEEKLY, date(2026, 11, 16), TUESDAY, "Papers of the week of 16 Nov 2026"),
    ],
)
def test_an_edition_is_named_for_the_day_it_is_read(
    cadence: Cadence, slot: date, today: date, heading: str
) -> None:
    assert period_heading(cadence, slot, today) == heading


def _titles(html: str) -> list[str]:
    return re.findall(r'class="paper-title"><a [^>]*>([^<]+)</a>', html)


def test_an_edition_planned_for_nobody_is_not_published(any_site: Site) -> None:
    site = any_site
    seed_papers(site.sessions, n=6)
    add_readers(site.sessions, 2, keywords=["nothing-matches-this"])
    with write_transaction(site.sessions) as session:
        empty = plan_edition(session, cadence="daily")
    assert empty.deliveries == 0
    client = site.client()
    assert f"/archive/{empty.edition_id}" not in client.get("/archive").get_data(as_text=True)
    assert client.get(f"/archive/{empty.edition_id}").status_code == 404
    add_readers(site.sessions, 1, start=10)  # someone who gets papers: now it is published
    with write_transaction(site.sessions) as session:
        assert plan_edition(session, cadence="daily").deliveries == 1
    assert f"/archive/{empty.edition_id}" in client.get("/archive").get_data(as_text=True)
    page = client.get(f"/archive/{empty.edition_id}")
    assert page.status_code == 200 and len(_titles(page.get_data(as_text=True))) == 6


def test_an_archived_edition_is_worded_for_a_later_day(site: Site) -> None:
    seed_papers(site.sessions, n=5)
    add_readers(site.sessions, 1)
    three_days_ago = utcnow().date() - timedelta(days=3)
    with write_transaction(site.sessions) as session:
        report = plan_edition(session, cadence="daily", day=three_days_ago)
    html = unescape(site.client().get(f"/archive/{report.edition_id}").get_data(as_text=True))
    weekday = three_days_ago.strftime("%A")
    assert f'<h1 id="edition-title">{weekday}\'s papers</h1>' in html
    assert "Today's" not in html
    assert html.count("<main") == 1 and html.count("<h1") == 1
    assert 'href="/archive"' in html and 'aria-label="Site"' in html  # the site's navigation


def _view(site: Site, email: str, edition_id: int, version: int = 1) -> str:
    links = ViewLinks(Wiring(site.settings).secret_key, site.settings.base_url)
    url = links.url(link_id_of(site.sessions, email), version, edition_id)
    assert url.startswith(site.settings.base_url + "/view/")
    return url.removeprefix(site.settings.base_url)


def test_the_browser_view_shows_the_readers_own_papers_without_actions(any_site: Site) -> None:
    site = any_site
    seed_papers(site.sessions, n=20)  # paper i is in category CATEGORIES[i % 5]
    add_readers(site.sessions, 1, categories=["cs.CL"], papers_per_digest=3)
    add_readers(site.sessions, 1, start=1, categories=["cs.CV"], papers_per_digest=3)
    with write_transaction(site.sessions) as session:
        report = plan_edition(session, cadence="daily")
    client = site.client()
    page = client.get(_view(site, "reader0@example.net", report.edition_id))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert _titles(html) == [f"Paper number {i} on {t}" for i, t in ((1, "transformers"),
        (6, "diffusion"), (11, "transformers"))]  # fmt: skip
    for action in ("/unsubscribe/", "/preferences/", "/feedback/", "<form", "<button"):
        assert action not in html, action
    assert '<meta name="robots" content="noindex">' in html
    assert "Today's papers" in unescape(html) and "your daily digest" in html
    assert html.count("<main") == 1 and html.count("<h1") == 1
    assert page.headers["Cache-Control"] == "private, no-store"
    assert "script-src" not in page.headers["Content-Security-Policy"]
    other = client.get(_view(site, "reader1@example.net", report.edition_id)).get_data(as_text=True)
    assert _titles(other)[0] == "Paper number 2 on transformers"  # cs.CV: their own papers


def test_a_view_link_that_was_revoked_forged_or_elsewhere_shows_nothing(site: Site) -> None:
    seed_papers(site.sessions, n=6)
    add_readers(site.sessions, 1)
    with write_transaction(site.sessions) as session:
        report = plan_edition(session, cadence="daily")
    client = site.client()
    path = _view(site, "reader0@example.net", report.edition_id)
    assert client.get(path).status_code == 200
    assert client.get(path[:-3] + "abc").status_code == 400  # tampered
    assert client.get(_view(site, "reader0@example.net", report.edition_id + 1)).status_code == 404
    with write_transaction(site.sessions) as session:  # they left and came back: links revoked
        session.execute(update(Subscriber).values(token_version=2))
    gone = client.get(path)
    assert gone.status_code == 404 and "no longer available" in gone.get_data(as_text=True)
    assert client.get(_view(site, "reader0@example.net", report.edition_id, 2)).status_code == 200
    # a token of another purpose is no view token
    unsubscribe = site.links.unsubscribe(link_id_of(site.sessions, "reader0@example.net"), 2)
    token = unsubscribe.rsplit("/", 1)[1]
    assert client.get(f"/view/{token}").status_code == 400


def test_a_paused_reader_sees_that_they_are_paused(site: Site) -> None:
    add_readers(site.sessions, 1, paused=True)
    link = site.links.preferences(link_id_of(site.sessions, "reader0@example.net"), 1)
    html = site.client().get(link.removeprefix(site.settings.base_url)).get_data(as_text=True)
    assert "paused" in html.lower() and 'role="status"' in html
    add_readers(site.sessions, 1, start=1)
    link = site.links.preferences(link_id_of(site.sessions, "reader1@example.net"), 1)
    html = site.client().get(link.removeprefix(site.settings.base_url)).get_data(as_text=True)
    assert "Your digest is paused" not in html


def test_the_digests_view_in_browser_link_opens_the_readers_own_page(site: Site) -> None:
    seed_papers(site.sessions, n=10)
    add_readers(site.sessions, 1, categories=["cs.CL"], papers_per_digest=2)
    with write_transaction(site.sessions) as session:
        report = plan_edition(session, cadence="daily")
    wiring = Wiring(site.settings, site.sessions)
    sent = send_edition(
        site.sessions, report.edition_id, wiring.composer(), wiring.transports,
        wiring.send_policy(),
    )  # fmt: skip
    assert sent.sent == 1
    text = message_text(site.smtp.messages[-1].data)
    found = re.search(r"View in your browser:\s+(\S+)", text)
    assert found, text
    link = found.group(1)
    assert link.startswith(site.settings.base_url + "/view/"), link
    page = site.client().get(link.removeprefix(site.settings.base_url))
    assert page.status_code == 200 and len(_titles(page.get_data(as_text=True))) == 2
