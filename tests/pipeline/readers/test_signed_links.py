"""Signed link tokens: the fast signing path writes exactly what itsdangerous writes, so the
links in digests sent before (and the web's checks) keep agreeing with the ones made now."""

from __future__ import annotations

import hashlib

import pytest
from itsdangerous import Signer as ItsSigner

from pipeline.readers.links import Signer, TokenError

SECRET = "a-test-secret-0123456789"
LINK_ID = "0123456789abcdef01234567"


def reference(purpose: str, value: str) -> str:
    signer = ItsSigner(SECRET, salt=f"paperround.{purpose}", digest_method=hashlib.sha256)
    return signer.sign(value).decode("ascii")


@pytest.mark.parametrize("purpose", ["unsubscribe", "preferences"])
def test_lasting_tokens_are_itsdangerous_tokens(purpose: str) -> None:
    signer = Signer(SECRET)
    token = signer.make(purpose, LINK_ID, 7)
    assert token == reference(purpose, f"{LINK_ID}-7")
    claims = signer.check(purpose, token)
    assert (claims.link_id, claims.version) == (LINK_ID, 7)


def test_feedback_tokens_are_itsdangerous_tokens() -> None:
    signer = Signer(SECRET)
    token = signer.make_feedback(LINK_ID, 3, 42)
    assert token == reference("feedback", f"{LINK_ID}-3-42")
    assert signer.check_feedback(token).paper_id == 42


def test_a_lasting_token_works_for_its_own_purpose_only() -> None:
    signer = Signer(SECRET)
    token = signer.make("unsubscribe", LINK_ID, 1)
    with pytest.raises(TokenError):
        signer.check("preferences", token)
    with pytest.raises(TokenError):
        Signer(SECRET + "x").check("unsubscribe", token)


def test_confirm_tokens_still_expire() -> None:
    signer = Signer(SECRET)
    token = signer.make("confirm", LINK_ID, 1)
    assert token.count(".") == 2  # value, timestamp, signature
    assert signer.check("confirm", token).link_id == LINK_ID
