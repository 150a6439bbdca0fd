"""Abuse resistance: CSRF, honeypot, no enumeration, one-click without cookies, request size,
security headers, escaping of hostile feed text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.ingest.entry import PaperEntry
from pipeline.ingest.persist import store_entries
from pipeline.readers.suppressions import suppress
from pipeline.store.db import write_transaction
from pipeline.store.models import Source
from pipeline.store.status import SuppressionReason
from tests.support.world import add_readers, link_id_of
from tests.workers.web.site import Site, message_text


def _path(url: str, site: Site) -> str:
    return url.removeprefix(site.settings.base_url)


def test_forms_without_a_valid_csrf_token_are_refused(site: Site) -> None:
    add_readers(site.sessions, 1, domain="csrf.example")
    maker = site.links
    prefs = _path(maker.preferences(link_id_of(site.sessions, "reader0@csrf.example"), 1), site)
    unsub = _path(maker.unsubscribe(link_id_of(site.sessions, "reader0@csrf.example"), 1), site)
    client = site.client()
    client.get("/")  # the browser holds a session cookie with a real token
    attempts = [
        ("/subscribe", {"email": "eve@example.org"}),
        ("/subscribe", {"email": "eve@example.org", "csrf_token": "forged"}),
        (prefs, {"cadence": "weekly", "csrf_token": ""}),
        (unsub, {"csrf_token": "forged"}),
        (unsub, {"List-Unsubscribe": "One-Click-ish"}),
        (unsub.replace("/unsubscribe/", "/resubscribe/"), {}),
    ]
    for path, form in attempts:
        response = client.post(path, data=form)
        assert response.status_code == 400, path
        assert "Please reload the form" in response.get_data(as_text=True)
    # A cookie-less client (another site's form) has no token at all.
    assert (
        site.client()
        .post("/subscribe", data={"email": "x@example.org", "csrf_token": "x"})
        .status_code
        == 400
    )
    assert site.reader("eve@example.org") is None
    reader = site.reader("reader0@csrf.example")
    assert reader is not None and (reader.status, reader.cadence) == ("active", "daily")


def test_rfc8058_one_click_post_needs_no_cookie_or_csrf(site: Site) -> None:
    add_readers(site.sessions, 1, domain="click.example")
    unsub = _path(
        site.links.unsubscribe(link_id_of(site.sessions, "reader0@click.example"), 1), site
    )
    client = site.client()
    response = client.post(
        unsub, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert site.reader("reader0@click.example").status == "unsubscribed"  # type: ignore[union-attr]
    again = client.post(unsub, data={"List-Unsubscribe": "One-Click"})  # mail clients retry
    assert again.status_code == 200


def test_honeypot_looks_like_success_but_does_nothing(site: Site) -> None:
    client = site.client()
    response = site.subscribe(client, "bot@example.org", website="http://spam.example")
    assert response.status_code == 303 and response.headers["Location"].endswith("/check-inbox")
    assert site.reader("bot@example.org") is None
    assert site.mails_to("bot@example.org") == []


def test_subscribe_answers_identically_for_every_kind_of_address(site: Site) -> None:
    add_readers(site.sessions, 1, domain="active.example")
    add_readers(site.sessions, 1, domain="gone.example", status="unsubscribed")
    add_readers(site.sessions, 1, domain="pending.example", status="pending")
    with write_transaction(site.sessions) as session:
        suppress(session, "reader0@bounced.example", SuppressionReason.BOUNCED)
    seen = set()
    for address in [
        "new@fresh.example",
        "reader0@active.example",
        "reader0@gone.example",
        "reader0@pending.example",
        "reader0@bounced.example",
    ]:
        client = site.client()
        response = site.subscribe(client, address)
        page = client.get(response.headers["Location"])
        api = site.client().post("/api/subscribe", json={"email": address.upper()})
        seen.add(
            (
                response.status_code,
                response.headers["Location"],
                response.get_data(),
                page.get_data(),
                api.status_code,
                api.get_data(),
            )
        )
    assert len(seen) == 1, seen
    site.drain()
    # The new, pending and unsubscribed readers were mailed a confirm link and the active one
    # their links, once; the bounced address nothing. The page never said which.
    mailed = {m.rcpt_tos[0]: message_text(m.data) for m in site.smtp.messages}
    assert set(mailed) == {
        "new@fresh.example",
        "reader0@active.example",
        "reader0@gone.example",
        "reader0@pending.example",
    }
    assert "/confirm/" not in mailed["reader0@active.example"]
    assert "/preferences/" in mailed["reader0@active.example"]
    assert len(site.smtp.messages) == 4  # form and API asked twice each: one mail each


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("", "Please enter an email address"),
        ("not-an-address", "not a valid email address"),
        ("a@example.org\r\nBcc: victim@example.org", "line breaks or control characters"),
        ("x" * 250 + "@example.org", "longer than 254"),
        ("jörg@example.org", "non-ASCII characters before the @"),
    ],
)
def test_bad_addresses_get_a_message_next_to_the_field(
    site: Site, address: str, words: str
) -> None:
    response = site.subscribe(site.client(), address)
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="email-error"' in body and words in body
    assert 'aria-invalid="true"' in body


def test_idn_domain_is_normalized_and_mailed_as_ascii(site: Site) -> None:
    assert site.subscribe(site.client(), "ann@BÜCHER.example").status_code == 303
    reader = site.reader("ann@bücher.example")
    assert reader is not None and reader.email == "ann@bücher.example"
    site.drain()
    assert site.smtp.messages[0].rcpt_tos == ("ann@xn--bcher-kva.example",)


def test_bad_preferences_are_reported_per_field(site: Site) -> None:
    response = site.subscribe(
        site.client(), "ok@example.org", other_categories="not a cat!", cadence="hourly"
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Cadence: choose daily or weekly" in body or "is not an arXiv category" in body
    assert site.reader("ok@example.org") is None


def test_oversized_requests_get_413(site: Site) -> None:
    client = site.client()
    token = site.csrf(client)
    response = client.post(
        "/subscribe", data={"email": "a@example.org", "csrf_token": token, "keywords": "k" * 20_000}
    )
    assert response.status_code == 413
    assert "larger than this site accepts" in response.get_data(as_text=True)
    assert site.reader("a@example.org") is None


def test_security_headers_on_every_page(site: Site) -> None:
    client = site.client()
    for path in ["/", "/check-inbox", "/archive", "/unsubscribe", "/confirm/bad", "/nope"]:
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert "script-src" not in csp and "unsafe-inline" not in csp  # no script at all
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"
        assert "<script" not in response.get_data(as_text=True).lower()
    css = client.get("/static/site.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    css.close()  # a file-backed response: close it, as a WSGI server would
    assert site.client().get("/").headers.get("Set-Cookie", "").count("HttpOnly") == 1


def test_hostile_paper_text_is_escaped_on_the_home_page(site: Site) -> None:
    with write_transaction(site.sessions) as session:
        source = Source(name="evil", kind="hf-daily", url="https://example.org/evil")
        session.add(source)
        session.flush()
        store_entries(
            session,
            source.id,
            [
                PaperEntry(
                    key="arxiv:2411.99999",
                    arxiv_id="2411.99999",
                    external_id="2411.99999",
                    title="<script>alert(1)</script><img src=x onerror=alert(2)>",
                    abstract="a",
                    authors=('"><b>Mallory</b>',),
                    categories=("cs.CL",),
                    links={"abs": "javascript:alert(3)"},
                    upvotes=5,
                )
            ],
            datetime.now(UTC),
        )
    body = site.client().get("/").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<script" not in body and "<b>Mallory" not in body
    assert 'href="javascript:' not in body


def test_wrong_methods_and_unknown_pages(site: Site) -> None:
    client = site.client()
    assert client.get("/subscribe").status_code == 405
    assert client.delete("/").status_code == 405
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "Page not found" in missing.get_data(as_text=True)


def test_a_full_subscribe_queue_says_busy_alike_for_every_address(site: Site) -> None:
    """Subscribe requests wait in a bounded queue (workers/web/mailer.py): when it is full the
    answer is 503 with Retry-After, never an unbounded backlog, and never about the address."""
    add_readers(site.sessions, 1, domain="known.example")
    site.app.extensions["paperround"].mailer.max_pending = 0
    answers = set()
    for address in ("reader0@known.example", "new@fresh.example"):
        form = site.subscribe(site.client(), address)
        api = site.client().post("/api/subscribe", json={"email": address})
        assert form.status_code == 503 and api.status_code == 503
        assert form.headers["Retry-After"] == api.headers["Retry-After"] == "60"
        assert api.get_json()["error"] == "busy"
        answers.add((form.get_data(), api.get_data()))
    assert len(answers) == 1
    assert site.reader("new@fresh.example") is None
