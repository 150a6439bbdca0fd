"""Quoted-printable bodies encoded once, with per-reader values spliced in as bytes.

Why this is correct: quoted-printable (RFC 2045 section 6.7, rule 5) has "soft line breaks",
an "=" at the end of an encoded line that decoders remove. Every pre-encoded chunk is made to
end at the start of a line (with its own hard line break or an added soft one), so a value
encoded on its own can be inserted between two chunks: the decoded text is exactly
chunk + value + chunk, and every encoded line stays within 76 characters.

The same holds one level up: a segment's body arrives as the parts it was joined from (the
compiled edition's literal pieces and the segment's few words between them), and each part is
encoded once and kept, so a segment costs a join of bytes that earlier segments already
encoded, however many placeholders its cards carry. Per reader only a few short values are
encoded.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache

SOFT_BREAK = b"=\r\n"


# Encoded lines, shared by every segment of an edition (they differ in which papers they
# carry, not in how a paper's lines read). Emptied when full, so a long-running worker keeps
# caching the editions it sends now; a lookup that races the emptying just encodes again.
_LINES: dict[str, bytes] = {}
_LINES_LIMIT = 50_000


def _b2a(data: bytes) -> bytes:
    """binascii's encoder, within 76 characters a line: it escapes a line's trailing space or
    tab ("=20") after counting the line's length, so a line of 74 characters and a space
    comes out 77 long. Such a line is broken once more, before the escape."""
    encoded = binascii.b2a_qp(data, istext=True)
    newline = b"\n" if encoded.endswith(b"\n") else b""
    body = encoded.removesuffix(newline)
    head, separator, last = body.rpartition(b"=\n")
    if len(last) <= 76:
        return encoded
    return head + separator + last[:-3] + b"=\n" + last[-3:] + newline


def _encode_line(line: str) -> bytes:
    """One complete line (without its line break) followed by a hard line break."""
    encoded = _LINES.get(line)
    if encoded is None:
        encoded = _b2a((line + "\n").encode("utf-8"))
        if len(_LINES) >= _LINES_LIMIT:
            _LINES.clear()
        _LINES[line] = encoded
    return encoded


def qp_encode(text: str) -> bytes:
    """UTF-8 quoted-printable with CRLF line breaks (RFC 5322 section 2.3).

    Quoted-printable is line-local (a hard line break ends every encoded line; soft breaks are
    made within a line), so encoding line by line gives the bytes of encoding the whole text
    (tests/pipeline/mail/test_qp.py), lines binascii makes too long aside. Lines come from a
    cache, looked up in C when all are known: 10,000 segments of one edition re-encode almost
    nothing (bench/digest.py).
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    last = lines.pop()
    try:
        encoded = list(map(_LINES.__getitem__, lines))
    except KeyError:
        encoded = [_encode_line(line) for line in lines]
    if last:
        encoded.append(_b2a(last.encode("utf-8")))
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
        return wrap_literal(raw)
    return to_line_start(qp_encode(value))


def wrap_literal(raw: bytes) -> bytes:
    """`raw`, made only of characters quoted-printable keeps as they are, in soft-broken lines."""
    if len(raw) <= _LINE:
        return raw + SOFT_BREAK
    return b"".join(raw[i : i + _LINE] + SOFT_BREAK for i in range(0, len(raw), _LINE))


@lru_cache(maxsize=256)
def _token_pattern(placeholders: frozenset[str]) -> re.Pattern[str]:
    """Every token of a set, longest first, so a token that contains another wins."""
    ordered = sorted(placeholders, key=lambda token: (-len(token), token))
    return re.compile("(" + "|".join(map(re.escape, ordered)) + ")")


# A part encoded: its first chunk, then each slot with the chunk that follows it.
_Encoded = tuple[bytes, tuple[tuple[str, bytes], ...]]

# Encoded parts per placeholder set. A segment's parts are mostly the compiled edition's own
# string objects, whose hashes Python keeps, so a hit costs a dictionary lookup.
_PARTS: dict[frozenset[str], dict[str, _Encoded]] = {}
_PARTS_LIMIT = 20_000


def _encode_part(part: str, placeholders: frozenset[str]) -> _Encoded:
    """One part cut at its tokens, every chunk ending at the start of a line."""
    cut = _token_pattern(placeholders).split(part) if placeholders else [part]
    chunks = [to_line_start(qp_encode(text)) for text in cut[0::2]]
    return chunks[0], tuple(zip(cut[1::2], chunks[1:], strict=True))


def _encoded_parts(placeholders: frozenset[str]) -> dict[str, _Encoded]:
    known = _PARTS.get(placeholders)
    if known is None:
        if len(_PARTS) >= 64:
            _PARTS.clear()
        known = _PARTS[placeholders] = {}
    elif len(known) >= _PARTS_LIMIT:
        known.clear()
    return known


class SplicedBody:
    """One text part as encoded chunks and the named slots between them.

    `text` is the body, or the parts it is the concatenation of; a placeholder must lie
    within one part (the compiled edition's pieces and their fill values never cut one)."""

    __slots__ = ("chunks", "slots")

    def __init__(self, text: str | Sequence[str], placeholders: Collection[str]) -> None:
        parts = (text,) if isinstance(text, str) else text
        tokens = frozenset(placeholders)
        known = _encoded_parts(tokens)
        self.chunks: list[bytes] = []
        self.slots: list[str] = []
        run: list[bytes] = []
        for part in parts:  # the hot loop of a segment's message: ~60 parts, mostly cached
            encoded = known.get(part)
            if encoded is None:
                encoded = known[part] = _encode_part(part, tokens)
            first, rest = encoded
            run.append(first)
            for slot, chunk in rest:
                self.chunks.append(b"".join(run))
                self.slots.append(slot)
                run = [chunk]
        last = b"".join(run)
        # The body's end needs no soft break: the boundary's own line break follows it.
        self.chunks.append(last.removesuffix(SOFT_BREAK))

    def render(self, encoded_values: Mapping[str, bytes]) -> list[bytes]:
        """The encoded part as a list of byte strings (join them once, with the rest)."""
        out = [self.chunks[0]]
        for slot, chunk in zip(self.slots, self.chunks[1:], strict=True):
            out.append(encoded_values[slot])
            out.append(chunk)
        return out
