"""Undoing HTTP Content-Encoding without ever holding more decoded bytes than a cap.

httpx's own decoders inflate a whole network chunk at once: 64 KiB of gzip can become ~64 MB
before any size check runs (a "gzip bomb"). zlib's max_length lets us stop exactly at the cap.
Kept apart from pipeline.ingest.fetch because it is pure byte handling: no sockets, no HTTP state.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

# The only codings we inflate ourselves (RFC 9110 8.4.1); fetch sends this as Accept-Encoding.
ACCEPT_ENCODING = "gzip, deflate"


class BodyError(ValueError):
    """The body cannot be decoded within the limits; `str()` is one line naming the source."""


class BoundedDecoder:
    """Feeds raw body chunks in, gets decoded bytes out, raising BodyError past `cap` bytes."""

    def __init__(self, content_encoding: str, cap: int, where: str) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c not in {"", "identity"}]
        if len(codings) > 1 or (codings and codings[0] not in {"gzip", "x-gzip", "deflate"}):
            raise BodyError(
                f"unsupported Content-Encoding {content_encoding!r} from {where} "
                f"(we asked for {ACCEPT_ENCODING})"
            )
        self.coding = codings[0] if codings else ""
        self.cap = cap
        self.where = where
        self.produced = 0
        self._inflater = zlib.decompressobj(self._wbits()) if self.coding else None
        self._fed = False

    def _wbits(self) -> int:
        return 16 + zlib.MAX_WBITS if self.coding in {"gzip", "x-gzip"} else zlib.MAX_WBITS

    def decode(self, chunk: bytes) -> bytes:
        if self._inflater is None:
            return self._count(chunk)
        first = not self._fed
        self._fed = self._fed or bool(chunk)
        try:
            return b"".join(self._inflate(chunk))
        except zlib.error as exc:
            if first and self.coding == "deflate" and self.produced == 0:
                # RFC 9110 8.4.1.2: "deflate" is zlib-wrapped, yet some servers send it raw.
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                return self.decode(chunk)
            raise BodyError(f"corrupt {self.coding} body from {self.where}: {exc}") from None

    def _inflate(self, data: bytes) -> Iterator[bytes]:
        inflater = self._inflater
        assert inflater is not None
        while data:
            if inflater.eof:
                # A gzip body may hold several members back to back (RFC 1952 2.2); anything
                # else after the end of the stream is padding we ignore, as browsers do.
                if self.coding == "deflate" or not data.startswith(b"\x1f\x8b"):
                    return
                inflater = self._inflater = zlib.decompressobj(self._wbits())
            yield self._count(inflater.decompress(data, self.cap - self.produced + 1))
            data = inflater.unused_data if inflater.eof else inflater.unconsumed_tail

    def finish(self) -> bytes:
        """Call after the last chunk: a compressed stream that did not end is an error."""
        if self._inflater is not None and self._fed and not self._inflater.eof:
            raise BodyError(f"truncated {self.coding} body from {self.where}")
        return b""

    def _count(self, piece: bytes) -> bytes:
        self.produced += len(piece)
        if self.produced > self.cap:
            how = f"stopped inflating {self.coding}" if self.coding else "stopped reading"
            raise BodyError(f"body from {self.where} exceeds the {self.cap:,}-byte cap ({how})")
        return piece
