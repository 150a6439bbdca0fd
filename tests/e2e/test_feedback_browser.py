"""Feedback from the email alone, in a real browser: a reader opens "More like this" links of
a digest that went through a real SMTP server, presses the page's button, and the next
digest's preview is led by the field they liked, each card saying why."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from pipeline.delivery import send_edition
from pipeline.digest.planning import plan_edition
from pipeline.digest.preview import preview_digest
from pipeline.store.db import write_transaction
from pipeline.store.models import Paper
from pipeline.store.status import Cadence
from pipeline.wiring import Wiring
from tests.conftest import require_chromium
from tests.e2e.test_browser import ARGS, SHOTS, accessibility_problems
from tests.pipeline.relevance.world import get, reader, seed_fields
from tests.support import unused_port
from tests.support.smtpserver import ScriptedSmtpServer
from tests.workers.web.site import make_site, served

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def _cards(html: str) -> list[tuple[str, str]]:
    """(title, "more like this" URL) of each card of a digest's HTML."""
    titles = re.findall(r'<h2 class="title"[^>]*>.*?<a [^>]*>([^<]+)</a>', html, re.S)
    more = re.findall(r'href="([^"]+/feedback/[^"]+/more)"', html)
    assert len(titles) == len(more), (titles, more)
    return list(zip(titles, more, strict=True))


def test_more_like_this_from_a_digest_leads_the_next_preview(
    tmp_path: Path, sqlite_store: Any
) -> None:
    chromium = require_chromium()
    from playwright.sync_api import sync_playwright

    port = unused_port()
    now = datetime.now(UTC)
    with ScriptedSmtpServer() as smtp:
        site = make_site(tmp_path, sqlite_store, smtp, base_url=f"http://127.0.0.1:{port}")
        today = seed_fields(site.sessions, now - timedelta(hours=3), prefix="2611", half=0)
        reader(site.sessions, "reader1@example.org", papers_per_digest=24)
        wiring = Wiring(site.settings, site.sessions)
        with write_transaction(site.sessions) as session:
            edition_id = plan_edition(session, now=now - timedelta(hours=2)).edition_id
        sent = send_edition(
            site.sessions, edition_id, wiring.composer(), wiring.transports, wiring.send_policy()
        )
        assert sent.sent == 1
        message = message_from_bytes(smtp.messages[-1].data, policy=policy.default)
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        cards = _cards(html)
        genomics = set(titles_of(site, today["genomics"]))
        liked = [(t, url) for t, url in cards if t in genomics][:3]
        assert len(liked) == 3

        tomorrow = seed_fields(site.sessions, now - timedelta(minutes=30), prefix="2612", half=1)

        def preview_fields() -> list[str]:
            with site.sessions() as session:
                preview = preview_digest(
                    session,
                    wiring.composer(),
                    wiring.site,
                    cadence=Cadence.DAILY,
                    day=(now + timedelta(days=1)).date(),
                    pool_size=site.settings.edition_pool_size,
                    gravity=site.settings.ranking_gravity,
                    email="reader1@example.org",
                )
            field_of = {t: f for f, ids in tomorrow.items() for t in titles_of(site, ids)}
            titles = [title for title, _more in _cards(preview.html)]
            assert preview.text.count("Why: ") == len(titles)
            return [field_of[t] for t in titles]

        before = preview_fields()
        assert before[:3] == ["nlp"] * 3  # trending alone: the most upvoted field

        with served(site.app, port), sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(chromium), headless=True, args=ARGS
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for number, (title, url) in enumerate(liked):
                page.goto(url)
                assert title in page.locator("main").inner_text()
                button = page.get_by_role("button", name="Yes, more like this")
                assert button.count() == 1
                if number == 0:
                    assert accessibility_problems(page) == []
                    SHOTS.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(SHOTS / "10-feedback.png"), full_page=True)
                button.click()
                assert "Noted: more papers like this" in page.locator("h1").inner_text()
                assert page.get_by_role("button", name="Undo").count() == 1
            assert accessibility_problems(page) == []
            browser.close()

        after = preview_fields()
        assert after[:3] == ["genomics"] * 3, after


def titles_of(site: Any, ids: list[int]) -> list[str]:
    with site.sessions() as session:
        return [get(session, Paper, pid).title for pid in ids]
