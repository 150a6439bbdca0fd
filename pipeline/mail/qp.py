"""Quoted-printable bodies encoded once, with per-reader values spliced in as bytes.

Why this is correct: quoted-printable (RFC 2045 section 6.7, rule 5) has "soft line breaks",
an "=" at the end of an encoded line that decoders remove. Every pre-encoded chunk is made to
end at the start of a line (with its own hard line break or an added soft one), so a value
encoded on its own can be inserted between two chunks: the decoded text is exactly
chunk + value + chunk, and every encoded line stays within 76 characters. A 100 KB body is
encoded once per segment; per reader only a few short values are encoded.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Collection, Mapping

SOFT_BREAK = b"=\r\n"


# Encoded lines, shared by every segment of an edition (they differ in which papers they
# carry, not in how a paper's lines read). Bounded; never cleared, so no reader races a clear.
_LINES: dict[str, bytes] = {}
_LINES_LIMIT = 50_000


def _encode_line(line: str) -> bytes:
    """One complete line (without its line break) followed by a hard line break."""
    encoded = _LINES.get(line)
    if encoded is None:
        encoded = binascii.b2a_qp((line + "\n").encode("utf-8"), istext=True)
        if len(_LINES) < _LINES_LIMIT:
            _LINES[line] = encoded
    return encoded


def qp_encode(text: str) -> bytes:
    """UTF-8 quoted-printable with CRLF line breaks (RFC 5322 section 2.3).

    Quoted-printable is line-local (a hard line break ends every encoded line; soft breaks are
    made within a line), so encoding line by line gives exactly the bytes of encoding the
    whole text (tests/pipeline/mail/test_qp.py). Lines come from a cache, looked up in C when all
    are known: 10,000 segments of one edition re-encode almost nothing (bench/digest.py).
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    last = lines.pop()
    try:
        encoded = list(map(_LINES.__getitem__, lines))
    except KeyError:
        encoded = [_encode_line(line) for line in lines]
    if last:
        encoded.append(binascii.b2a_qp(last.encode("utf-8"), istext=True))
    return b"".join(encoded).replace(b"\n", b"\r\n")


def to_line_start(encoded: bytes) -> bytes:
    """Make `encoded` end at the start of a line, adding a soft line break if needed."""
    if not encoded or encoded.endswith(b"\r\n"):
        return encoded
    head, separator, last = encoded.rpartition(b"\r\n")
    if len(last) < 76:
        return encoded + SOFT_BREAK
    # The last line is already 76 characters, the most RFC 2045 allows, so break it once more
    # at 73-75, never inside an "=XX" escape ("=" only ever starts an escape here).
    cut = 75
    if last[74] == ord("="):
        cut = 74
    elif last[73] == ord("="):
        cut = 73
    return head + separator + last[:cut] + SOFT_BREAK + last[cut:] + SOFT_BREAK


# Printable ASCII but "=" and space: quoted-printable leaves these as they are, so a value
# made only of them (a URL, a token) needs soft line breaks and nothing else.
_LITERAL = re.compile(rb"[!-<>-~]*")
_LINE = 75  # characters before a soft break's "=": 76 in all, the most RFC 2045 allows


def encode_value(value: str) -> bytes:
    """A value ready to sit between two chunks of a `SplicedBody`. A digest carries a dozen
    per reader (links), so the common case, a URL, skips the general encoder."""
    raw = value.encode("utf-8")
    if _LITERAL.fullmatch(raw):
        return b"".join(raw[i : i + _LINE] + SOFT_BREAK for i in range(0, len(raw), _LINE))
    return to_line_start(qp_encode(value))


class SplicedBody:
    """One text part, split at placeholder tokens into encoded chunks and named slots."""

    __slots__ = ("chunks", "slots")

    def __init__(self, text: str, placeholders: Collection[str]) -> None:
        pieces: list[str] = []
        self.slots: list[str] = []
        if placeholders:
            # Longest first, so a token that contains another token wins.
            ordered = sorted(placeholders, key=len, reverse=True)
            pattern = re.compile("|".join(re.escape(token) for token in ordered))
            start = 0
            for found in pattern.finditer(text):
                pieces.append(text[start : found.start()])
                self.slots.append(found.group())
                start = found.end()
            pieces.append(text[start:])
        else:
            pieces.append(text)
        last = len(pieces) - 1
        self.chunks: list[bytes] = [
            qp_encode(piece) if index == last else to_line_start(qp_encode(piece))
            for index, piece in enumerate(pieces)
        ]

    def render(self, encoded_values: Mapping[str, bytes]) -> list[bytes]:
        """The encoded part as a list of byte strings (join them once, with the rest)."""
        out = [self.chunks[0]]
        for slot, chunk in zip(self.slots, self.chunks[1:], strict=True):
            out.append(encoded_values[slot])
            out.append(chunk)
        return out
