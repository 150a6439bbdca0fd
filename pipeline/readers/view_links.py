"""The "view in your browser" link: one reader's digest of one edition, read-only.

A token of its own purpose (salt "paperround.view"), so it can be shared or leak from a
browser's history without granting anything: it shows the papers the reader was sent and
nothing else (no unsubscribe, no preferences, no feedback). It names the reader's opaque link
id and token version, so it stops working with every other link when the version is bumped
(the reader left and came back), and the edition. It never expires: old digests keep working.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from itsdangerous import BadData
from itsdangerous import Signer as ItsSigner
from itsdangerous.encoding import base64_encode

from pipeline.readers.links import TokenError

_CLAIMS = re.compile(r"([0-9a-f]{24})-([0-9]{1,9})-([0-9]{1,18})")


@dataclass(frozen=True, slots=True)
class ViewClaims:
    link_id: str
    version: int
    edition_id: int


class ViewLinks:
    """Makes and checks view links with the site's secret key."""

    def __init__(self, secret_key: str, base_url: str) -> None:
        self._signer = ItsSigner(secret_key, salt="paperround.view", digest_method=hashlib.sha256)
        self._key = self._signer.derive_key()  # one per digest message: derive it once
        self._base = base_url.rstrip("/")

    def token(self, link_id: str, version: int, edition_id: int) -> str:
        claims = f"{link_id}-{version}-{edition_id}"
        if not _CLAIMS.fullmatch(claims):
            raise ValueError(f"not a link id, version and edition: {claims[:60]!r}")
        value = claims.encode("ascii")
        signature = base64_encode(hmac.digest(self._key, value, "sha256"))  # as Signer.sign
        return (value + b"." + signature).decode("ascii")

    def url(self, link_id: str, version: int, edition_id: int) -> str:
        return f"{self._base}/view/{self.token(link_id, version, edition_id)}"

    def check(self, token: str) -> ViewClaims:
        """The claims of a valid token, else TokenError; revocation is the caller's check."""
        if not token or len(token) > 300:
            raise TokenError("This link is incomplete or damaged.")
        try:
            value = self._signer.unsign(token).decode("ascii", "replace")
        except BadData:
            raise TokenError("This link is not valid.") from None
        found = _CLAIMS.fullmatch(value)
        if found is None:
            raise TokenError("This link is not valid.")
        return ViewClaims(found.group(1), int(found.group(2)), int(found.group(3)))
