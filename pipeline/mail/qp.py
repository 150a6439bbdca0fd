"""Quoted-printable bodies encoded once, with per-reader values spliced in as bytes.

Why this is correct: quoted-printable (RFC 2045 section 6.7, rule 5) has "soft line breaks",
an "=" at the end of an encoded line that decoders remove. Every encoded chunk here ends at
the start of a line (with its own hard line break or a soft one), so a value encoded on its
own can be inserted between two chunks: the decoded text is exactly chunk + value + chunk.

The same holds one level up: a segment's body arrives as the parts it was joined from (the
compiled edition's literal pieces and the segment's few words between them), and each part is
encoded once and kept, so a segment costs a join of bytes that earlier segments already
encoded, however many placeholders its cards carry. Per reader only a few short values are
encoded.

Every encoded line is at most 76 characters (RFC 2045's limit) and none starts with ".",
which is written "=2E" there (RFC 2049 section 3 suggests it for robust transport). So a
body made here needs no SMTP dot-stuffing (RFC 5321 section 4.5.2): the transport can skip
a pass over every message (pipeline/mail/smtp.py).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache

SOFT_BREAK = b"=\r\n"
_WIDTH = 75  # characters of a line before its soft break's "=": 76 in all
_ATOM = re.compile(rb"=[0-9A-F]{2}|[^=]")  # what a line may be broken between


def _fold(flat: bytes) -> list[bytes]:
    """One line's encoding without line breaks, as lines of at most 75 characters, none
    starting with "."; an escape is never split."""
    if len(flat) <= _WIDTH and not flat.startswith(b"."):
        return [flat]
    if b"=" not in flat:  # no escapes: cut by length (every link of a digest)
        return _fold_literal(flat)
    atoms = _ATOM.findall(flat)
    if sum(map(len, atoms)) != len(flat):
        raise ValueError("not quoted-printable without line breaks")  # never loses a byte
    lines: list[bytes] = []
    line = bytearray()
    for atom in atoms:
        if len(line) + len(atom) > _WIDTH:
            lines.append(bytes(line))
            line = bytearray()
        line += b"=2E" if not line and atom == b"." else atom
    lines.append(bytes(line))
    return lines


def _fold_literal(raw: bytes) -> list[bytes]:
    """`_fold` of bytes without escapes, by slicing."""
    lines = []
    at = 0
    while at < len(raw):
        if raw[at] == 0x2E:  # "."
            lines.append(b"=2E" + raw[at + 1 : at + _WIDTH - 2])
            at += _WIDTH - 2
        else:
            lines.append(raw[at : at + _WIDTH])
            at += _WIDTH
    return lines


def _flat(text: str) -> bytes:
    """`text` (one line, no line break) encoded, without binascii's soft line breaks."""
    return binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"=\n", b"")


# Encoded lines, shared by every segment of an edition (they differ in which papers they
# carry, not in how a paper's lines read). Emptied when full, so a long-running worker keeps
# caching the editions it sends now; a lookup that races the emptying just encodes again.
_LINES: dict[str, bytes] = {}
_LINES_LIMIT = 50_000


def _encode_line(line: str) -> bytes:
    """One complete line (without its line break) followed by a hard line break."""
    encoded = _LINES.get(line)
    if encoded is None:
        encoded = SOFT_BREAK.join(_fold(_flat(line))) + b"\r\n"
        if len(_LINES) >= _LINES_LIMIT:
            _LINES.clear()
        _LINES[line] = encoded
    return encoded


def qp_encode(text: str) -> bytes:
    """UTF-8 quoted-printable with CRLF line breaks (RFC 5322 section 2.3), ending at the
    start of a line: a text that does not end with a line break gets a soft one.

    Quoted-printable is line-local (a hard line break ends every encoded line; soft breaks are
    made within a line), so each line is encoded on its own and kept: lines come from a cache,
    looked up in C when all are known, and 10,000 segments of one edition re-encode almost
    nothing (bench/digest.py). Trailing spaces are escaped ("=20") at the end of the text too,
    so nothing depends on what follows it.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    last = lines.pop()
    try:
        encoded = list(map(_LINES.__getitem__, lines))
    except KeyError:
        encoded = [_encode_line(line) for line in lines]
    if last:
        encoded.append(b"".join(line + SOFT_BREAK for line in _fold(_flat(last))))
    return b"".join(encoded)


# Printable ASCII but "=" and space: quoted-printable leaves these as they are, so a value
# made only of them (a URL, a token) needs soft line breaks and nothing else.
_LITERAL = re.compile(rb"[!-<>-~]*")


def encode_value(value: str) -> bytes:
    """A value ready to sit between two chunks of a `SplicedBody`. A digest carries a dozen
    per reader (links), so the common case, a URL, skips the general encoder."""
    raw = value.encode("utf-8")
    if _LITERAL.fullmatch(raw):
        return wrap_literal(raw)
    return qp_encode(value)


def wrap_literal(raw: bytes) -> bytes:
    """`raw`, made only of characters quoted-printable keeps as they are, in soft-broken lines."""
    return b"".join(line + SOFT_BREAK for line in _fold(raw))


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
    chunks = [qp_encode(text) for text in cut[0::2]]
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
