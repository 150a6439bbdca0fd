"""The reader's whole life cycle over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import timedelta

from sqlalchemy import update

from pipeline.store.db import write_transaction
from pipeline.store.models import Subscriber
from pipeline.timeutil import utcnow
from tests.workers.web.site import Site


def _later(site: Site, key: str) -> None:
    with write_transaction(site.sessions) as session:
        session.execute(
            update(Subscriber)
            .where(Subscriber.email_key == key)
            .values(confirmation_sent_at=utcnow() - timedelta(minutes=11))
        )


def test_subscribe_confirm_preferences_unsubscribe_resubscribe(any_site: Site) -> None:
    site = any_site
    client = site.client()
    response = site.subscribe(client, "Ann@Example.ORG", categories=["cs.CL"], keywords="rag")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/check-inbox")
    assert "Check your inbox" in client.get("/check-inbox").get_data(as_text=True)

    reader = site.reader("ann@example.org")
    assert reader is not None and reader.status == "pending"
    assert reader.email == "Ann@example.org"  # domain lower-cased, local part kept
    assert reader.consent_channel == "web" and reader.consent_ip == "127.0.0.1"
    assert reader.categories == ["cs.CL"] and reader.keywords == ["rag"]

    [mail] = site.mails_to("Ann@example.org")
    raw = site.smtp.messages[0].data
    headers = email.message_from_bytes(raw, policy=email.policy.default)
    assert headers["Subject"] == "Confirm your Paperround subscription"
    assert headers["To"] == "Ann@example.org"
    assert headers["Message-ID"].endswith("@paperround.example.org>")
    assert headers["Date"] and headers["From"]

    confirm = site.link(mail, "confirm")
    page = site.confirm(client, confirm)
    assert page.status_code == 200
    assert "Welcome to Paperround" in page.get_data(as_text=True)
    assert site.reader("ann@example.org").status == "active"  # type: ignore[union-attr]

    # Pressing the button again (a resent form, the back button) changes nothing.
    replay = client.post(confirm, data={"csrf_token": site.csrf(client)})
    assert replay.status_code == 200
    assert "already confirmed" in replay.get_data(as_text=True)
    assert "already confirmed" in client.get(confirm).get_data(as_text=True)

    prefs_path = site.link(page.get_data(as_text=True).replace("&amp;", "&"), "preferences")
    form = client.get(prefs_path).get_data(as_text=True)
    assert "Ann@example.org" in form
    token = site.csrf(client, prefs_path)
    saved = client.post(
        prefs_path,
        data={
            "csrf_token": token,
            "categories": ["cs.CV", "cs.LG"],
            "other_categories": "q-bio.NC",
            "keywords": "diffusion, Robots",
            "cadence": "weekly",
            "send_hour": "18",
            "timezone": "Europe/Berlin",
            "weekly_day": "4",
            "papers_per_digest": "7",
            "paused": "on",
        },
    )
    assert saved.status_code == 303
    assert "Saved." in client.get(saved.headers["Location"]).get_data(as_text=True)
    reader = site.reader("ann@example.org")
    assert reader is not None
    assert reader.categories == ["cs.CV", "cs.LG", "q-bio.NC"]
    assert reader.keywords == ["diffusion", "robots"]
    assert (reader.cadence, reader.send_hour, reader.timezone) == ("weekly", 18, "Europe/Berlin")
    assert (reader.weekly_day, reader.papers_per_digest, reader.paused) == (4, 7, True)

    # The confirmation mail's List-Unsubscribe names the reader's unsubscribe link.
    unsubscribe = site.link(str(headers["List-Unsubscribe"]), "unsubscribe")
    shown = client.get(unsubscribe)
    assert shown.status_code == 200 and "Unsubscribe?" in shown.get_data(as_text=True)
    assert site.reader("ann@example.org").status == "active"  # type: ignore[union-attr]  # GET never unsubscribes
    left = client.post(unsubscribe, data={"csrf_token": site.csrf(client, unsubscribe)})
    assert left.status_code == 200 and "You are unsubscribed" in left.get_data(as_text=True)
    assert site.reader("ann@example.org").status == "unsubscribed"  # type: ignore[union-attr]

    _later(site, "ann@example.org")  # the 10-minute confirmation throttle has passed
    back = client.post(
        unsubscribe.replace("/unsubscribe/", "/resubscribe/"),
        data={"csrf_token": site.csrf(client)},
    )
    assert back.status_code == 303 and back.headers["Location"].endswith("/check-inbox")
    reader = site.reader("ann@example.org")
    assert reader is not None and reader.status == "pending"  # needs a new confirmation
    mails = site.mails_to("Ann@example.org")
    assert len(mails) == 2
    assert client.get(confirm).status_code == 404  # the old link was revoked
    assert client.post(confirm, data={"csrf_token": site.csrf(client)}).status_code == 404
    assert site.confirm(client, site.link(mails[1], "confirm")).status_code == 200
    assert site.reader("ann@example.org").status == "active"  # type: ignore[union-attr]


def test_one_confirmation_per_address_per_ten_minutes(site: Site) -> None:
    client = site.client()
    for _ in range(3):
        assert site.subscribe(client, "bob@example.org").status_code == 303
    assert len(site.mails_to("bob@example.org")) == 1
    _later(site, "bob@example.org")
    assert site.subscribe(client, "bob@example.org").status_code == 303
    assert len(site.mails_to("bob@example.org")) == 2


def test_failed_confirmation_send_can_be_retried_at_once(site: Site) -> None:
    site.smtp.reply_to_rcpt("busy@example.org", "451 4.3.0 Try again later")
    client = site.client()
    assert site.subscribe(client, "busy@example.org").status_code == 303
    site.drain()
    reader = site.reader("busy@example.org")
    assert reader is not None and reader.confirmation_sent_at is None  # throttle released
    site.smtp.clear_rules()
    assert site.subscribe(client, "busy@example.org").status_code == 303
    assert len(site.mails_to("busy@example.org")) == 1


def test_opening_the_confirm_link_does_not_confirm(site: Site) -> None:
    """Mail scanners and link previews open every link: only the page's button confirms."""
    client = site.client()
    site.subscribe(client, "scan@example.org")
    [mail] = site.mails_to("scan@example.org")
    confirm = site.link(mail, "confirm")
    for _ in range(3):
        page = site.client().get(confirm)  # a scanner: no cookie, GET only, maybe HEAD
        assert page.status_code == 200
        assert site.client().head(confirm).status_code == 200
    body = page.get_data(as_text=True)
    assert site.reader("scan@example.org").status == "pending"  # type: ignore[union-attr]
    assert body.count("<main") == 1 and body.count("<h1") == 1
    assert "Confirm your subscription</h1>" in body and "scan@example.org" in body
    form = re.search(r'<form method="post" action="([^"]+)">(.*?)</form>', body, re.S)
    assert form is not None and form.group(1) == confirm
    assert 'name="csrf_token"' in form.group(2)
    assert '<button type="submit" class="button">Confirm my subscription</button>' in form.group(2)
    # The button's POST needs the page's CSRF token, like every form.
    assert client.post(confirm).status_code == 400
    assert site.reader("scan@example.org").status == "pending"  # type: ignore[union-attr]
    done = site.confirm(client, confirm)
    assert "Welcome to Paperround" in done.get_data(as_text=True)
    assert site.reader("scan@example.org").status == "active"  # type: ignore[union-attr]
