"""A reader's whole journey in a real browser: Debian chromium driven by Playwright, against the
app under waitress on 127.0.0.1, with mail going to a real SMTP server in the test.

Screenshots of every page (1280 px desktop and 375 px phone) land in var/screenshots/.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.delivery import send_edition
from pipeline.digest.planning import plan_edition
from pipeline.readers.view_links import ViewLinks
from pipeline.store.db import write_transaction
from pipeline.wiring import Wiring
from tests.conftest import require_chromium
from tests.support import unused_port
from tests.support.smtpserver import ScriptedSmtpServer
from tests.support.world import link_id_of, seed_papers
from tests.workers.web.site import make_site, message_text, served

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
# axe-core, the accessibility engine, as the axe-playwright-python package ships it
AXE = (importlib.resources.files("axe_playwright_python") / "axe.min.js").read_text("utf-8")


def accessibility_problems(page: Any) -> list[str]:
    """axe-core's violations on the page as shown (WCAG 2 A/AA and best practices), plus the
    two landmarks rules spelled out: exactly one main landmark and one h1."""
    page.evaluate(AXE)  # run through DevTools: the page's CSP (no script) does not apply
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    problems = [
        f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]
    if page.get_by_role("main").count() != 1:
        problems.append("not exactly one main landmark")
    if page.locator("h1").count() != 1:
        problems.append("not exactly one h1")
    return problems


def header_margins(page: Any) -> dict[str, float]:
    """Space around the header's contents: brand to the left edge and the header's top, nav
    to the right edge and the header's bottom border (on a phone the nav wraps below)."""
    width = page.viewport_size["width"]
    header = page.locator(".site-header").bounding_box()
    brand = page.locator(".site-header .brand").bounding_box()
    nav = page.locator(".site-header nav").bounding_box()
    return {
        "left": brand["x"],
        "right": width - (nav["x"] + nav["width"]),
        "top": brand["y"] - header["y"],
        "bottom": header["y"] + header["height"] - (nav["y"] + nav["height"]),
    }


@pytest.fixture
def browser() -> Iterator[Any]:
    chromium = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=ARGS
        )
        yield launched
        launched.close()


class Camera:
    """Full-page screenshots at desktop and phone width; collects console errors (CSP)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        # 4xx pages we open on purpose log "Failed to load resource"; anything else (a CSP
        # violation, a refused stylesheet) is a defect.
        page.on("console", self._console)

    def _console(self, msg: Any) -> None:
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            self.errors.append(msg.text)
        SHOTS.mkdir(parents=True, exist_ok=True)

    def shoot(self, name: str) -> None:
        for width, label in ((1280, "desktop"), (375, "phone")):
            self.page.set_viewport_size({"width": width, "height": 900 if width > 400 else 812})
            self.page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
        self.page.set_viewport_size({"width": 1280, "height": 900})


def test_subscribe_confirm_change_preferences_and_unsubscribe(
    browser: Any, tmp_path: Path, sqlite_store: Any
) -> None:
    port = unused_port()
    with ScriptedSmtpServer() as smtp:
        site = make_site(tmp_path, sqlite_store, smtp, base_url=f"http://127.0.0.1:{port}")
        seed_papers(site.sessions, n=12)
        with served(site.app, port) as url:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            camera = Camera(page)

            page.goto(url + "/")
            assert page.title().startswith("Paperround")
            assert page.locator(".paper").count() == 5
            camera.shoot("01-home")
            page.fill("#email", "not an address")
            page.click("button[type=submit]")
            assert page.locator("#email-error").is_visible()
            camera.shoot("02-home-error")

            page.fill("#email", "reader@example.org")
            page.check("input[value='cs.CL']")
            page.fill("#keywords", "transformers")
            page.keyboard.press("Tab")
            page.focus("button[type=submit]")
            camera.shoot("03-home-focus")
            page.click("button[type=submit]")
            page.wait_for_url(url + "/check-inbox")
            assert page.locator("h1").inner_text() == "Check your inbox"
            camera.shoot("04-check-inbox")

            [mail] = site.mails_to("reader@example.org")
            page.goto(site.settings.base_url + site.link(mail, "confirm"))
            # Opening the link only shows the button (mail scanners open links too).
            assert page.locator("h1").inner_text() == "Confirm your subscription"
            assert page.get_by_role("main").count() == 1 and page.locator("h1").count() == 1
            button = page.get_by_role("button", name="Confirm my subscription")
            assert button.count() == 1
            assert site.reader("reader@example.org").status == "pending"  # type: ignore[union-attr]
            camera.shoot("05-confirm")
            button.click()
            assert "Welcome to Paperround" in page.locator("h1").inner_text()
            assert site.reader("reader@example.org").status == "active"  # type: ignore[union-attr]
            camera.shoot("05-confirmed")

            page.click("text=Choose topics and send time")
            assert page.locator("h1").inner_text() == "Your digest"
            camera.shoot("06-preferences")
            page.check("input[value='cs.LG']")
            page.select_option("#send_hour", "7")
            page.fill("#papers_per_digest", "4")
            page.click("text=Save preferences")
            assert page.locator(".notice").is_visible()
            camera.shoot("07-preferences-saved")
            reader = site.reader("reader@example.org")
            assert reader is not None and reader.status == "active"
            assert (reader.categories, reader.send_hour, reader.papers_per_digest) == (
                ["cs.LG", "cs.CL"],
                7,
                4,
            )

            # The next digest, planned and sent by the pipeline, as the scheduler would.
            with write_transaction(site.sessions) as session:
                report = plan_edition(session, cadence="daily")
            assert report.deliveries == 1
            sent = send_edition(
                site.sessions,
                report.edition_id,
                Wiring(site.settings, site.sessions).composer(),
                Wiring(site.settings).transports,
                Wiring(site.settings).send_policy(),
            )
            assert sent.sent == 1
            digest = message_text(smtp.messages[-1].data)
            assert "Paper number" in digest

            page.goto(url + f"/archive/{report.edition_id}")
            assert page.locator("text=Paper number").count() >= 4
            assert page.locator("h1").inner_text() == "Today's papers"
            assert accessibility_problems(page) == []
            camera.shoot("08-archive-edition")
            page.goto(url + "/archive")
            assert accessibility_problems(page) == []
            camera.shoot("09-archive")

            # "View in your browser": the reader's own papers, in the site, with no actions
            view = ViewLinks(Wiring(site.settings).secret_key, site.settings.base_url)
            page.goto(
                view.url(link_id_of(site.sessions, "reader@example.org"), 1, report.edition_id)
            )
            assert page.locator(".paper").count() == 4  # they asked for 4 papers
            assert page.get_by_role("navigation", name="Site").count() == 1
            assert page.locator("form, button").count() == 0
            assert accessibility_problems(page) == []
            camera.shoot("08b-view-in-browser")
            for width in (375, 1280):  # the header keeps its margins on a phone too
                page.set_viewport_size({"width": width, "height": 812})
                margins = header_margins(page)
                assert min(margins["left"], margins["right"]) >= 16, (width, margins)
                assert min(margins["top"], margins["bottom"]) >= 8, (width, margins)
            page.set_viewport_size({"width": 1280, "height": 900})

            page.goto(site.settings.base_url + site.link(digest, "unsubscribe"))
            assert page.locator("h1").inner_text() == "Unsubscribe?"
            camera.shoot("10-unsubscribe")
            page.click("button:has-text('Unsubscribe')")
            assert page.locator("h1").inner_text() == "You are unsubscribed"
            camera.shoot("11-unsubscribed")
            assert site.reader("reader@example.org").status == "unsubscribed"  # type: ignore[union-attr]

            page.goto(url + "/confirm/not-a-real-token")
            camera.shoot("12-bad-link")
            assert camera.errors == [], camera.errors  # e.g. CSP violations show up here
            page.close()
        site.app.extensions["paperround"].mailer.close()
