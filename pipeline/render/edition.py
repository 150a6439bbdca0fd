"""The digest compiled once per edition, assembled per segment.

compile_edition() is the only expensive step (Jinja2 -> MJML -> premailer, ~0.2 s for 20
papers). A segment's body is then string joins of pre-cut pieces (`CompiledEdition.assemble`),
its reader links still placeholders that the message fills per reader
(pipeline/mail/message.py). No database access here: callers pass plain data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.render import engine
from pipeline.render.cards import (
    feedback_html,
    feedback_text,
    headings,
    reason_html,
    reason_text,
    section_html,
    section_text,
)
from pipeline.render.context import edition_context, short_date
from pipeline.render.model import DigestPaper, EditionContent, SegmentBody
from pipeline.render.pieces import SplitDocument, split_document
from pipeline.render.placeholders import (
    HTML_PAPER_START,
    HTML_PAPERS_END,
    PAPER_COUNT,
    PAPER_FEEDBACK,
    PAPER_REASON,
    PAPER_SECTION,
    RANKING,
    TEXT_PAPER_START,
    TEXT_PAPERS_END,
)
from pipeline.text import one_line

# Gmail clips a message whose HTML passes ~102 KB; planners should keep segments under it
# (about 23 worst-case papers with thumbnails fit, 30 without: tests/pipeline/render).
GMAIL_CLIP_BYTES = 102_000


@dataclass(frozen=True)
class CompiledEdition:
    """An edition compiled once: the full documents and their pre-cut pieces."""

    content: EditionContent
    html: str
    text: str
    html_pieces: SplitDocument = field(repr=False)
    text_pieces: SplitDocument = field(repr=False)
    index_of: Mapping[str, int] = field(repr=False)

    def assemble(
        self,
        paper_keys: Sequence[str],
        reasons: Sequence[Sequence[str]] = (),
        followed: Sequence[bool] = (),
        *,
        feedback: bool = False,
    ) -> SegmentBody:
        """The body for readers who get these papers, in this order (string joins only):
        each card with its reasons, a heading where followed authors' papers start and end,
        and, with `feedback`, its "more / less like this" links (filled per reader)."""
        if not paper_keys:
            raise ValueError("a digest needs at least one paper")
        for name, given in (("reasons", reasons), ("followed", followed)):
            if given and len(given) != len(paper_keys):
                raise ValueError(f"{name} must have one entry per paper")
        try:
            order = [self.index_of[key] for key in paper_keys]
        except KeyError as exc:
            raise ValueError(
                f"paper {exc.args[0]!r} is not in edition {self.content.edition_id}"
            ) from None
        if len(set(order)) != len(order):
            raise ValueError("a segment lists a paper twice")
        ranking = self.ranking(bool(reasons), [self.content.papers[i] for i in order])
        shared = {PAPER_COUNT: count_phrase(len(order)), RANKING: ranking}
        sections = headings(list(followed) or [False] * len(order))
        html_cards, text_cards = [], []
        for number in range(1, len(order) + 1):
            said = reasons[number - 1] if reasons else ()
            heading = sections[number - 1]
            html_cards.append(
                {
                    PAPER_SECTION: section_html(heading) if heading else "",
                    PAPER_REASON: reason_html(said),
                    PAPER_FEEDBACK: feedback_html(number) if feedback else "",
                }
            )
            text_cards.append(
                {
                    PAPER_SECTION: section_text(heading) if heading else "",
                    PAPER_REASON: reason_text(said),
                    PAPER_FEEDBACK: feedback_text(number) if feedback else "",
                }
            )
        return SegmentBody(
            html_parts=self.html_pieces.parts(order, shared, html_cards),
            text_parts=self.text_pieces.parts(order, shared, text_cards),
            subject=digest_subject(self.content, len(order)),
        )

    @staticmethod
    def ranking(personal: bool, papers: Sequence[DigestPaper]) -> str:
        """How these papers are ordered, as the digest's intro says it."""
        return ranking_phrase(personal, any(paper.upvotes for paper in papers))


def ranking_phrase(personal: bool, upvoted: bool) -> str:
    """How a list of papers is ordered, in words: upvotes are named only when some paper
    has any (a list from feeds without votes is ordered by age and how widely it is listed).
    The digest's intro and the site's edition pages both say it this way."""
    if personal:
        return "picked for you from your interests and what is trending"
    if upvoted:
        return "ranked by reader upvotes"
    return "ranked by how new they are and how many feeds list them"


def count_phrase(n_papers: int) -> str:
    """'1 paper', '12 papers'."""
    return f"{n_papers} paper" if n_papers == 1 else f"{n_papers} papers"


def digest_subject(content: EditionContent, n_papers: int) -> str:
    """'Paperround daily: 12 trending papers, 26 Nov 2026' on a single line (RFC 5322 2.2)."""
    site = one_line(content.site_name)
    noun = "paper" if n_papers == 1 else "papers"
    return f"{site} {content.cadence}: {n_papers} trending {noun}, {short_date(content.date)}"


class EmptyEdition(ValueError):
    """An edition without papers: there is no digest to render."""


def compile_edition(content: EditionContent) -> CompiledEdition:
    """Render the whole edition once (mjml and premailer run here and nowhere else)."""
    if not content.papers:
        raise EmptyEdition(f"edition {content.edition_id} has no papers to render")
    context = edition_context(content)
    full_html = engine.render_html("digest.mjml.j2", context)
    full_text = engine.render_text("digest.txt.j2", context)
    count = len(content.papers)
    html_pieces, html_doc = split_document(full_html, count, HTML_PAPER_START, HTML_PAPERS_END)
    text_pieces, text_doc = split_document(full_text, count, TEXT_PAPER_START, TEXT_PAPERS_END)
    return CompiledEdition(
        content=content,
        html=html_doc,
        text=text_doc,
        html_pieces=html_pieces,
        text_pieces=text_pieces,
        index_of={paper.key: index for index, paper in enumerate(content.papers)},
    )
