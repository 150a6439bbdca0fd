"""The digest email: compiled once per edition, assembled per segment, personalized per reader.

compile_edition() is the only expensive step (Jinja2 -> MJML -> premailer, ~0.2 s for 20
papers). A segment's body is then string joins of pre-cut pieces (assemble), and a reader's
copy is one more join over three link tokens (personalize). Tokens are plain ASCII letters
because premailer (lxml >= 5) URL-encodes braces and spaces inside href (FINDINGS.md). No
database access here: callers pass plain data.
"""

from __future__ import annotations

import datetime
import functools
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pipeline.render import engine as render_engine
from pipeline.render.context import edition_context, one_line, short_date, site_context
from pipeline.render.fields import safe_url
from pipeline.render.pieces import Piece, SplitDocument, split_document

UNSUBSCRIBE_PLACEHOLDER = "PRxUNSUBSCRIBExURL"
PREFERENCES_PLACEHOLDER = "PRxPREFERENCESxURL"
BROWSER_PLACEHOLDER = "PRxBROWSERxURL"
CONFIRM_PLACEHOLDER = "PRxCONFIRMxURL"
RECIPIENT_PLACEHOLDER = "PRxRECIPIENTxEMAIL"

_PERSONAL_RE = re.compile(
    f"({UNSUBSCRIBE_PLACEHOLDER}|{PREFERENCES_PLACEHOLDER}|{BROWSER_PLACEHOLDER})"
)
_HTML_START, _HTML_END = "<!--PRxPAPERxSTARTx{}-->", "<!--PRxPAPERSxEND-->"
_TEXT_START, _TEXT_END = "PRxPAPERxSTARTx{}\n", "PRxPAPERSxEND\n"

# Gmail clips a message whose HTML passes ~102 KB; planners should keep segments under it
# (about 23 worst-case papers with thumbnails fit, 30 without: tests/test_render.py).
GMAIL_CLIP_BYTES = 102_000

Cadence = Literal["daily", "weekly"]


@dataclass(frozen=True)
class DigestPaper:
    """One paper as the digest shows it; text fields are untrusted (they come from feeds)."""

    key: str
    arxiv_id: str | None
    title: str
    authors: tuple[str, ...]
    abstract: str
    categories: tuple[str, ...]
    upvotes: int
    links: Mapping[str, str]
    thumbnail: str | None = None

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("a digest paper needs a non-empty key")
        if not self.title.strip():
            raise ValueError(f"paper {self.key!r} has an empty title")
        if self.upvotes < 0:
            raise ValueError(f"paper {self.key!r} has negative upvotes ({self.upvotes})")


@dataclass(frozen=True)
class EditionContent:
    """Everything one edition's digest shows, whoever receives it."""

    edition_id: int
    cadence: Cadence
    date: datetime.date
    papers: Sequence[DigestPaper]
    site_name: str
    base_url: str
    postal_address: str
    intro: str | None = None

    def __post_init__(self) -> None:
        if self.cadence not in ("daily", "weekly"):
            raise ValueError(f"cadence must be 'daily' or 'weekly', not {self.cadence!r}")
        keys = [paper.key for paper in self.papers]
        if len(set(keys)) != len(keys):
            raise ValueError(f"edition {self.edition_id} lists a paper key twice")
        _check_site(self.site_name, self.base_url, self.postal_address)


@dataclass(frozen=True)
class PersonalLinks:
    """The per-reader links; only these differ between two readers of one segment."""

    unsubscribe_url: str
    preferences_url: str
    view_in_browser_url: str


@dataclass(frozen=True)
class SegmentBody:
    """A segment's HTML and text with the reader's links still as tokens."""

    html: str
    text: str
    subject: str

    @functools.cached_property
    def pieces(self) -> tuple[Piece, Piece]:
        """HTML and text split on the personal tokens once, so each reader costs one join."""
        return Piece.parse(self.html, _PERSONAL_RE), Piece.parse(self.text, _PERSONAL_RE)


@dataclass(frozen=True)
class CompiledEdition:
    """An edition compiled once: the full documents and their pre-cut pieces."""

    content: EditionContent
    html: str
    text: str
    html_pieces: SplitDocument = field(repr=False)
    text_pieces: SplitDocument = field(repr=False)
    index_of: Mapping[str, int] = field(repr=False)

    def assemble(self, paper_keys: Sequence[str]) -> SegmentBody:
        """The body for readers who get these papers, in this order (string joins only)."""
        if not paper_keys:
            raise ValueError("a digest needs at least one paper")
        try:
            order = [self.index_of[key] for key in paper_keys]
        except KeyError as exc:
            raise ValueError(
                f"paper {exc.args[0]!r} is not in edition {self.content.edition_id}"
            ) from None
        if len(set(order)) != len(order):
            raise ValueError("a segment lists a paper twice")
        phrase = count_phrase(len(order))
        return SegmentBody(
            html=self.html_pieces.join(order, phrase),
            text=self.text_pieces.join(order, phrase),
            subject=digest_subject(self.content, len(order)),
        )


def count_phrase(n_papers: int) -> str:
    """'1 paper', '12 papers'."""
    return f"{n_papers} paper" if n_papers == 1 else f"{n_papers} papers"


def digest_subject(content: EditionContent, n_papers: int) -> str:
    """'Paperround daily: 12 trending papers, 26 Nov 2026' on a single line (RFC 5322 2.2)."""
    site = one_line(content.site_name)
    noun = "paper" if n_papers == 1 else "papers"
    return f"{site} {content.cadence}: {n_papers} trending {noun}, {short_date(content.date)}"


def compile_edition(content: EditionContent) -> CompiledEdition:
    """Render the whole edition once (mjml and premailer run here and nowhere else)."""
    if not content.papers:
        raise ValueError(f"edition {content.edition_id} has no papers to render")
    context = edition_context(content)
    full_html = render_engine.render_html("digest.mjml.j2", context)
    full_text = render_engine.render_text("digest.txt.j2", context)
    count = len(content.papers)
    html_pieces, html_doc = split_document(full_html, count, _HTML_START, _HTML_END)
    text_pieces, text_doc = split_document(full_text, count, _TEXT_START, _TEXT_END)
    return CompiledEdition(
        content=content,
        html=html_doc,
        text=text_doc,
        html_pieces=html_pieces,
        text_pieces=text_pieces,
        index_of={paper.key: index for index, paper in enumerate(content.papers)},
    )


def personalize(body: SegmentBody, links: PersonalLinks) -> tuple[str, str]:
    """(html, text) for one reader: the three link tokens replaced, attribute-escaped in HTML."""
    raw = {
        UNSUBSCRIBE_PLACEHOLDER: links.unsubscribe_url,
        PREFERENCES_PLACEHOLDER: links.preferences_url,
        BROWSER_PLACEHOLDER: links.view_in_browser_url,
    }
    escaped = {token: html.escape(url, quote=True) for token, url in raw.items()}
    html_pieces, text_pieces = body.pieces
    return html_pieces.fill(escaped), text_pieces.fill(raw)


def render_confirmation(
    confirm_url: str, site_name: str, base_url: str, postal_address: str, email: str
) -> tuple[str, str]:
    """(html, text) of the double opt-in mail; the compiled template is reused per site."""
    if safe_url(confirm_url) != confirm_url:
        raise ValueError(f"confirmation URL is not a plain http(s) URL: {confirm_url[:100]!r}")
    address = one_line(email)
    if not address or len(address) > 320:
        raise ValueError(f"not a usable email address for a confirmation: {address[:100]!r}")
    compiled_html, compiled_text = _compiled_confirmation(site_name, base_url, postal_address)
    html_out = compiled_html.replace(CONFIRM_PLACEHOLDER, html.escape(confirm_url, quote=True))
    html_out = html_out.replace(RECIPIENT_PLACEHOLDER, html.escape(address, quote=True))
    text_out = compiled_text.replace(CONFIRM_PLACEHOLDER, confirm_url)
    text_out = text_out.replace(RECIPIENT_PLACEHOLDER, address)
    return html_out, text_out


@functools.lru_cache(maxsize=8)
def _compiled_confirmation(site_name: str, base_url: str, postal_address: str) -> tuple[str, str]:
    """Compile the confirmation template once per site (signups can come in bursts)."""
    _check_site(site_name, base_url, postal_address)
    context = site_context(site_name, base_url, postal_address)
    context["title"] = f"Confirm your {context['site_name']} subscription"
    context["preview"] = "One click to start receiving the digest."
    return (
        render_engine.render_html("confirm.mjml.j2", context),
        render_engine.render_text("confirm.txt.j2", context),
    )


def _check_site(site_name: str, base_url: str, postal_address: str) -> None:
    if not one_line(site_name):
        raise ValueError("site_name must not be empty")
    if safe_url(base_url) != base_url:
        raise ValueError(f"base_url must be a plain http(s) URL, not {base_url[:100]!r}")
    if not postal_address.strip():
        # CAN-SPAM (15 U.S.C. 7704(a)(5)) requires the sender's postal address in every mail.
        raise ValueError("postal_address must not be empty: bulk mail must carry it")
