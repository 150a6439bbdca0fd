"""The JSON API: same rules as the forms, clear JSON errors."""

from __future__ import annotations

from typing import Any

from tests.support.world import add_readers, link_id_of
from tests.workers.web.site import Site


def test_api_subscribe_then_confirm(site: Site) -> None:
    client = site.client()
    response = client.post(
        "/api/subscribe",
        json={
            "email": "api@example.org",
            "categories": ["cs.LG"],
            "keywords": ["agents"],
            "cadence": "weekly",
        },
    )
    assert response.status_code == 202
    assert response.get_json()["status"] == "pending_confirmation"
    reader = site.reader("api@example.org")
    assert reader is not None and reader.consent_channel == "api"
    assert (reader.cadence, reader.categories, reader.keywords) == ("weekly", ["cs.LG"], ["agents"])
    [mail] = site.mails_to("api@example.org")
    assert site.confirm(client, site.link(mail, "confirm")).status_code == 200
    assert site.reader("api@example.org").status == "active"  # type: ignore[union-attr]


def test_api_errors_are_clear_json(site: Site) -> None:
    client = site.client()
    cases: list[tuple[dict[str, Any], int, str, str | None]] = [
        ({"json": {"email": "nope"}}, 400, "invalid_email", "email"),
        (
            {"json": {"email": "a@example.org", "cadence": "hourly"}},
            400,
            "invalid_preferences",
            "cadence",
        ),
        (
            {"json": {"email": "a@example.org", "categories": "cs.LG; DROP"}},
            400,
            "invalid_preferences",
            "categories",
        ),
        (
            {"json": {"email": "a@example.org", "papers_per_digest": "many"}},
            400,
            "invalid_preferences",
            "papers_per_digest",
        ),
        ({"json": ["a@example.org"]}, 400, "invalid_json", None),
        ({"data": "{broken", "content_type": "application/json"}, 400, "invalid_json", None),
        ({"data": {"email": "a@example.org"}}, 415, "unsupported_media_type", None),
    ]
    for kwargs, status, code, field in cases:
        response = client.post("/api/subscribe", **kwargs)
        body = response.get_json()
        assert response.status_code == status, kwargs
        assert body["error"] == code and body["message"], body
        assert body.get("field") == field
    assert site.reader("a@example.org") is None


def test_api_unsubscribe(site: Site) -> None:
    add_readers(site.sessions, 1, domain="api.example")
    token = site.links.unsubscribe(link_id_of(site.sessions, "reader0@api.example"), 1).rpartition(
        "/"
    )[2]
    client = site.client()
    assert client.post("/api/unsubscribe", json={"token": token}).get_json() == {
        "status": "unsubscribed"
    }
    assert site.reader("reader0@api.example").status == "unsubscribed"  # type: ignore[union-attr]
    forged = client.post("/api/unsubscribe", json={"token": token[:-3] + "AAA"})
    assert forged.status_code == 400 and forged.get_json()["error"] == "bad_request"
    revoked = client.post(
        "/api/unsubscribe",
        json={
            "token": site.links.unsubscribe(
                link_id_of(site.sessions, "reader0@api.example"), 7
            ).rpartition("/")[2]
        },
    )
    assert revoked.status_code == 404 and revoked.get_json()["error"] == "invalid_link"
    missing = client.post("/api/unsubscribe", json={})
    assert missing.status_code == 400 and missing.get_json()["field"] == "token"
    assert client.get("/api/subscribe").status_code == 405
