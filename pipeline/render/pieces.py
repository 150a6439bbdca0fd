"""Cut a compiled document at its marker comments into pre-split pieces that join cheaply.

A compiled digest holds every paper of the edition. Markers around each paper survive mjml
and premailer, so a segment's body is head + the chosen fragments + tail: string joins, no
template engine. Segment-dependent words (the paper count, each paper's number) are tokens
that each piece has already been split on, so filling them is a join too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipeline.render.placeholders import PAPER_COUNT, PAPER_NUMBER

_SLOT_RE = re.compile(f"({PAPER_NUMBER}|{PAPER_COUNT})")


@dataclass(frozen=True)
class Piece:
    """Literal text split on slot tokens: literals at even indexes, slot names at odd ones."""

    parts: tuple[str, ...]

    @classmethod
    def parse(cls, text: str, slots: re.Pattern[str] = _SLOT_RE) -> Piece:
        """Split text on the slot tokens matched by slots (a pattern with one group)."""
        return cls(tuple(slots.split(text)))

    def fill(self, values: Mapping[str, str]) -> str:
        """The text with every slot replaced (a slot without a value raises KeyError)."""
        if len(self.parts) == 1:
            return self.parts[0]
        parts = list(self.parts)
        for index in range(1, len(parts), 2):
            parts[index] = values[parts[index]]
        return "".join(parts)


@dataclass(frozen=True)
class SplitDocument:
    """A document as head, one fragment per paper (edition order) and tail."""

    head: Piece
    fragments: tuple[Piece, ...]
    tail: Piece

    def join(self, order: Sequence[int], count_phrase: str) -> str:
        """Head, the fragments at the given indexes numbered 1..n, tail."""
        shared = {PAPER_COUNT: count_phrase}
        out = [self.head.fill(shared)]
        for number, index in enumerate(order, start=1):
            out.append(self.fragments[index].fill({PAPER_NUMBER: str(number), **shared}))
        out.append(self.tail.fill(shared))
        return "".join(out)


def split_document(text: str, n_papers: int, start: str, end: str) -> tuple[SplitDocument, str]:
    """Split text at markers start.format(i) for i < n_papers and end; markers are removed.

    Returns the pieces and the marker-free document, which the pieces reproduce byte for
    byte. A missing, repeated or misplaced marker raises ValueError: the template or the
    compiler lost it and the digest cannot be assembled safely.
    """
    markers = [start.format(i) for i in range(n_papers)] + [end]
    positions: list[tuple[int, int]] = []
    cursor = 0
    for marker in markers:
        at = text.find(marker, cursor)
        if at < 0 or text.count(marker) != 1:
            raise ValueError(f"marker {marker!r} is missing, repeated or out of order")
        positions.append((at, at + len(marker)))
        cursor = at + len(marker)
    chunks = []
    previous_end = 0
    for at, after in positions:
        chunks.append(text[previous_end:at])
        previous_end = after
    chunks.append(text[previous_end:])
    document = SplitDocument(
        head=Piece.parse(chunks[0]),
        fragments=tuple(Piece.parse(chunk) for chunk in chunks[1:-1]),
        tail=Piece.parse(chunks[-1]),
    )
    return document, "".join(chunks)
