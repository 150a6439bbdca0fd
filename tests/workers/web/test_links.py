"""Signed links that must not work: forged, tampered, expired, revoked, for another purpose."""

from __future__ import annotations

import hashlib
import itertools
import time

import pytest
from itsdangerous import TimestampSigner

from pipeline.readers.lifecycle import revoke_links
from pipeline.store.db import write_transaction
from tests.support.world import add_readers
from tests.workers.web.site import Site


def _reader(site: Site) -> str:
    """A reader's link id: the opaque id their signed links carry."""
    add_readers(site.sessions, 1, domain="links.example")
    found = site.reader("reader0@links.example")
    assert found is not None
    return found.link_id


def _assert_clear_page(response, status: int, words: str) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == status
    assert words in body
    assert "Traceback" not in body and "<script" not in body
    assert response.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("kind", ["confirm", "unsubscribe", "preferences"])
@pytest.mark.parametrize(
    "token", ["garbage", "WzEsMV0.awd_XA.AAAAAAAAAAAAAAAAAAAAAAAAAAA", "x" * 600, "%00%0d%0a"]
)
def test_forged_tokens_get_a_clear_400(site: Site, kind: str, token: str) -> None:
    response = site.client().get(f"/{kind}/{token}")
    _assert_clear_page(response, 400, "This link does not work")


def test_tampered_token_is_refused(site: Site) -> None:
    link_id = _reader(site)
    good = site.links.unsubscribe(link_id, 1).rpartition("/")[2]
    payload, mac = good.split(".")
    assert payload == f"{link_id}-1"
    other = f"{int(link_id, 16) + 1:024x}"
    tampered = f"{other}-1.{mac}"  # another reader, same signature
    _assert_clear_page(site.client().get(f"/unsubscribe/{tampered}"), 400, "not valid")
    assert site.client().get(f"/unsubscribe/{good}").status_code == 200


def test_token_for_one_purpose_never_works_for_another(site: Site) -> None:
    link_id = _reader(site)
    confirm = site.signer.make("confirm", link_id, 1)
    client = site.client()
    _assert_clear_page(client.get(f"/unsubscribe/{confirm}"), 400, "not valid")
    _assert_clear_page(client.get(f"/preferences/{confirm}"), 400, "not valid")
    one_click = client.post(f"/unsubscribe/{confirm}", data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 400
    assert site.reader("reader0@links.example").status == "active"  # type: ignore[union-attr]


def test_expired_confirm_link_says_so(site: Site) -> None:
    link_id = _reader(site)

    class EightDaysAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 8 * 24 * 3600

    old = (
        EightDaysAgo(
            site.settings.secret_key, salt="paperround.confirm", digest_method=hashlib.sha256
        )
        .sign(f"{link_id}-1")
        .decode()
    )
    response = site.client().get(f"/confirm/{old}")
    _assert_clear_page(response, 400, "This link has expired")
    assert "Subscribe again" in response.get_data(as_text=True)
    client = site.client()  # the button of a page opened before the link expired
    pressed = client.post(f"/confirm/{old}", data={"csrf_token": site.csrf(client)})
    _assert_clear_page(pressed, 400, "This link has expired")


@pytest.mark.parametrize(
    "token", ["garbage", "WzEsMV0.awd_XA.AAAAAAAAAAAAAAAAAAAAAAAAAAA", "x" * 600, "%00%0d%0a"]
)
def test_the_confirm_button_with_a_forged_token_gets_a_clear_400(site: Site, token: str) -> None:
    client = site.client()
    pressed = client.post(f"/confirm/{token}", data={"csrf_token": site.csrf(client)})
    _assert_clear_page(pressed, 400, "This link does not work")


def test_revoked_or_replaced_confirm_links_get_404_on_the_page_and_the_button(site: Site) -> None:
    add_readers(site.sessions, 1, domain="pending.example", status="pending")
    add_readers(site.sessions, 1, domain="left.example", status="unsubscribed")
    pending = site.reader("reader0@pending.example")
    left = site.reader("reader0@left.example")
    assert pending is not None and left is not None
    revoked = f"/confirm/{site.signer.make('confirm', pending.link_id, 2)}"  # version 1 is valid
    replaced = f"/confirm/{site.signer.make('confirm', left.link_id, 1)}"
    client = site.client()
    for path, words in ((revoked, "no longer valid"), (replaced, "please subscribe again")):
        _assert_clear_page(client.get(path), 404, words)
        pressed = client.post(path, data={"csrf_token": site.csrf(client)})
        _assert_clear_page(pressed, 404, words)
    assert site.reader("reader0@pending.example").status == "pending"  # type: ignore[union-attr]
    assert site.reader("reader0@left.example").status == "unsubscribed"  # type: ignore[union-attr]


def test_revoked_links_get_404(site: Site) -> None:
    link_id = _reader(site)
    maker = site.links
    unsubscribe = maker.unsubscribe(link_id, 1).removeprefix(site.settings.base_url)
    preferences = maker.preferences(link_id, 1).removeprefix(site.settings.base_url)
    client = site.client()
    assert client.get(preferences).status_code == 200
    with write_transaction(site.sessions) as session:
        revoke_links(session, "reader0@links.example")
    _assert_clear_page(client.get(preferences), 404, "no longer valid")
    _assert_clear_page(client.get(unsubscribe), 404, "no longer valid")
    one_click = client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 404
    assert site.reader("reader0@links.example").status == "active"  # type: ignore[union-attr]


def test_link_for_a_deleted_reader_gets_404(site: Site) -> None:
    token = site.signer.make("preferences", "ab" * 12, 1)  # well formed, nobody's
    _assert_clear_page(site.client().get(f"/preferences/{token}"), 404, "no longer valid")


def test_links_carry_an_opaque_id_not_the_row_id(site: Site) -> None:
    add_readers(site.sessions, 3, domain="opaque.example")
    readers = [site.reader(f"reader{i}@opaque.example") for i in range(3)]
    payloads = []
    for reader in readers:
        assert reader is not None
        token = site.links.preferences(reader.link_id, 1).rpartition("/")[2]
        payload = token.partition(".")[0]
        assert payload.split("-")[0] == reader.link_id != str(reader.id)
        assert len(reader.link_id) == 24
        payloads.append(int(payload.split("-")[0], 16))
    # consecutive readers do not get consecutive (or even nearby) ids
    assert all(abs(a - b) > 2**32 for a, b in itertools.pairwise(payloads))
    with pytest.raises(ValueError, match="not a link id"):
        site.signer.make("preferences", "42", 1)
