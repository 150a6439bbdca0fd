"""Signed links: confirm, unsubscribe, preferences, feedback. No passwords, no sessions.

`LinkMaker` writes the public URLs Paperround puts in mail (the web app serves exactly these
paths); `Signer` makes and checks the tokens inside them.

Each token is signed with the secret key AND its purpose (itsdangerous salt), so a token made
for one purpose never works for another. It carries the reader's opaque link id (random, never
the row id: a link must not tell how many readers there are or let anyone guess another's)
and token version: bumping the version revokes every link sent before. Confirm links expire;
unsubscribe and preferences links must keep working from old digests, so they do not.
A feedback link ("more / less like this" on a card) also names the paper, so a digest of ten
papers carries ten of them per reader: each is one HMAC, a few microseconds.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadData, SignatureExpired, TimestampSigner
from itsdangerous import Signer as ItsSigner
from itsdangerous.encoding import base64_encode

_LINK_ID = re.compile(r"[0-9a-f]{24}")
PURPOSES = {"confirm": 7 * 24 * 3600, "unsubscribe": None, "preferences": None}
FEEDBACK = "feedback"


class TokenError(ValueError):
    """The link is forged, tampered, expired, revoked or for another purpose."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True, slots=True)
class TokenClaims:
    link_id: str
    version: int


@dataclass(frozen=True, slots=True)
class FeedbackClaims:
    link_id: str
    version: int
    paper_id: int


def load_or_create_secret(configured: str, data_dir: Path) -> str:
    """The configured key, or one generated once and kept in data_dir/secret_key (mode 600).

    Made atomically: the key is written whole to a private temporary file, which is then
    hard-linked into place (link(2) fails if the name exists), so concurrent first starts
    agree on one key and no process ever reads a half-written or empty file.
    """
    if configured:
        return configured
    path = data_dir / "secret_key"
    if path.exists():
        return _read_key(path)
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd, temporary = tempfile.mkstemp(dir=data_dir, prefix=".secret_key.")  # mode 600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return _read_key(path)  # another process won: its key is the key
    finally:
        Path(temporary).unlink(missing_ok=True)
    return key


def _read_key(path: Path) -> str:
    key = path.read_text().strip()
    if len(key) < 16:
        raise ValueError(f"{path} does not hold a usable secret key; delete it to make a new one")
    return key


class Signer:
    """Makes and checks the tokens of every purpose with one secret key.

    A token is "<link id>-<token version>" signed with HMAC-SHA256 under a per-purpose salt
    (plus a timestamp for expiring purposes). Compact on purpose: one is made per reader per
    digest, and itsdangerous' JSON serializers (zlib-compressing each payload) cost more than
    the rest of composing a message.
    """

    def __init__(self, secret_key: str) -> None:
        if len(secret_key) < 16:
            raise ValueError("secret_key must be at least 16 characters")
        self._signers: dict[str, ItsSigner] = {
            purpose: (TimestampSigner if max_age else ItsSigner)(
                secret_key, salt=f"paperround.{purpose}", digest_method=hashlib.sha256
            )
            for purpose, max_age in PURPOSES.items()
        }
        self._feedback = ItsSigner(
            secret_key, salt=f"paperround.{FEEDBACK}", digest_method=hashlib.sha256
        )
        # A digest signs an unsubscribe, a preferences and one feedback token per card per
        # reader: derive each key once (the signer would derive it again for every token).
        self._feedback_key = self._feedback.derive_key()
        self._keys = {
            purpose: signer.derive_key()
            for purpose, signer in self._signers.items()
            if not isinstance(signer, TimestampSigner)
        }

    def make(self, purpose: str, link_id: str, version: int) -> str:
        if not _LINK_ID.fullmatch(link_id):
            raise ValueError(f"not a link id: {link_id[:40]!r}")
        key = self._keys.get(purpose)
        if key is None:  # an expiring purpose: the timestamp is the signer's to write
            return self._signers[purpose].sign(f"{link_id}-{version}").decode("ascii")
        return _signed(key, f"{link_id}-{version}".encode("ascii"))

    def make_feedback(self, link_id: str, version: int, paper_id: int) -> str:
        if not _LINK_ID.fullmatch(link_id):
            raise ValueError(f"not a link id: {link_id[:40]!r}")
        return _signed(self._feedback_key, f"{link_id}-{version}-{paper_id}".encode("ascii"))

    def check_feedback(self, token: str) -> FeedbackClaims:
        """The claims of a valid feedback token, else TokenError."""
        if not token or len(token) > 500:
            raise TokenError("This link is incomplete or damaged.")
        try:
            value = self._feedback.unsign(token).decode("ascii", "replace")
        except BadData:
            raise TokenError("This link is not valid.") from None
        parts = value.split("-")
        if len(parts) != 3:
            raise TokenError("This link is not valid.")
        ident, version, paper = parts
        numbers = (version, paper)
        if not (_LINK_ID.fullmatch(ident) and all(n.isdigit() and len(n) < 19 for n in numbers)):
            raise TokenError("This link is not valid.")
        return FeedbackClaims(link_id=ident, version=int(version), paper_id=int(paper))

    def check(self, purpose: str, token: str) -> TokenClaims:
        """The claims of a valid token, else TokenError. Revocation is the caller's check."""
        signer = self._signers[purpose]
        if not token or len(token) > 500:
            raise TokenError("This link is incomplete or damaged.")
        try:
            if isinstance(signer, TimestampSigner):
                value = signer.unsign(token, max_age=PURPOSES[purpose])
            else:
                value = signer.unsign(token)
        except SignatureExpired:
            raise TokenError("This link has expired.", expired=True) from None
        except BadData:
            raise TokenError("This link is not valid.") from None
        ident, dash, version = value.decode("ascii", "replace").partition("-")
        if not (dash and _LINK_ID.fullmatch(ident) and version.isdigit() and len(version) < 10):
            raise TokenError("This link is not valid.")
        return TokenClaims(link_id=ident, version=int(version))


def _signed(key: bytes, value: bytes) -> str:
    """What itsdangerous' Signer writes (HMAC-SHA256 under its derived key, its separator),
    in one C call for the HMAC."""
    return (value + b"." + base64_encode(hmac.digest(key, value, "sha256"))).decode("ascii")


@dataclass(frozen=True)
class LinkMaker:
    base_url: str
    signer: Signer

    def _url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def confirm(self, link_id: str, version: int) -> str:
        return self._url("/confirm/" + self.signer.make("confirm", link_id, version))

    def unsubscribe(self, link_id: str, version: int) -> str:
        return self._url("/unsubscribe/" + self.signer.make("unsubscribe", link_id, version))

    def preferences(self, link_id: str, version: int) -> str:
        return self._url("/preferences/" + self.signer.make("preferences", link_id, version))

    def feedback(self, link_id: str, version: int, paper_id: int) -> str:
        """A card's feedback link; the digest adds "/more" or "/less"."""
        return self._url("/feedback/" + self.signer.make_feedback(link_id, version, paper_id))

    def archive(self, edition_id: int) -> str:
        """The view-in-browser page: the edition without any reader's personal links."""
        return self._url(f"/archive/{edition_id}")

    def home(self) -> str:
        return self._url("/")
