"""Cut a compiled document at its marker comments into pre-split pieces that join cheaply.

A compiled digest holds every paper of the edition. Markers around each paper survive mjml
and premailer, so a segment's body is head + the chosen fragments + tail: string joins, no
template engine. Segment-dependent words (the paper count, how the segment is ranked, each
paper's number, section heading, reasons and feedback links) are tokens that each piece has
already been split on, so filling them is a join too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipeline.render.placeholders import (
    PAPER_COUNT,
    PAPER_FEEDBACK,
    PAPER_NUMBER,
    PAPER_REASON,
    PAPER_SECTION,
    RANKING,
)

SEGMENT_SLOTS = (PAPER_NUMBER, PAPER_COUNT, RANKING, PAPER_SECTION, PAPER_REASON, PAPER_FEEDBACK)
_SLOT_RE = re.compile("(" + "|".join(SEGMENT_SLOTS) + ")")


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
        return "".join(self.filled(values))

    def filled(self, values: Mapping[str, str]) -> list[str]:
        """The literals and the slots' values, in order: the text unjoined."""
        parts = list(self.parts)
        for index in range(1, len(parts), 2):
            parts[index] = values[parts[index]]
        return parts


@dataclass(frozen=True)
class SplitDocument:
    """A document as head, one fragment per paper (edition order) and tail."""

    head: Piece
    fragments: tuple[Piece, ...]
    tail: Piece

    def join(
        self,
        order: Sequence[int],
        shared: Mapping[str, str],
        per_paper: Sequence[Mapping[str, str]] = (),
    ) -> str:
        """Head, the fragments at the given indexes numbered 1..n, tail. `shared` fills the
        slots of every piece; `per_paper[k]` those of the k-th fragment."""
        return "".join(self.parts(order, shared, per_paper))

    def parts(
        self,
        order: Sequence[int],
        shared: Mapping[str, str],
        per_paper: Sequence[Mapping[str, str]] = (),
    ) -> tuple[str, ...]:
        """What `join` joins: the pieces' own literals (the same string objects every time,
        so the mail encoder keeps their encoding) and the values between them."""
        out = self.head.filled(shared)
        for number, index in enumerate(order, start=1):
            own = per_paper[number - 1] if per_paper else {}
            values = {**shared, PAPER_NUMBER: str(number), **own}
            out += self.fragments[index].filled(values)
        out += self.tail.filled(shared)
        return tuple(out)


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
