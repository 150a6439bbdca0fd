"""Template context: the digest's data shaped for display (trimmed, escaped later by Jinja).

Everything here runs once per edition (or once per site for the confirmation mail).
"""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlsplit

from pipeline.render.fields import (
    MAX_CATEGORIES_SHOWN,
    TITLE_LIMIT,
    TLDR_LIMIT,
    clean_text,
    safe_url,
    shorten_authors,
    trim_abstract,
)
from pipeline.render.model import DigestPaper, EditionContent
from pipeline.render.placeholders import PAPER_COUNT, for_templates
from pipeline.render.tex import tex_to_text
from pipeline.render.ways_in import way_in
from pipeline.text import one_line

_LINK_LABELS = (("pdf", "PDF"), ("html", "HTML"), ("code", "Code"), ("project", "Project"))


# English names, independent of the process locale (strftime's %A/%B/%b follow LC_TIME).
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def short_date(day: datetime.date) -> str:
    """'26 Nov 2026'."""
    return f"{day.day} {_MONTHS[day.month - 1][:3]} {day.year}"


def long_date(day: datetime.date) -> str:
    """'Thursday, 26 November 2026'."""
    return f"{_WEEKDAYS[day.weekday()]}, {day.day} {_MONTHS[day.month - 1]} {day.year}"


def site_context(site_name: str, base_url: str, postal_address: str) -> dict[str, Any]:
    return {
        "site_name": clean_text(one_line(site_name), 100),
        "base_url": base_url,
        "base_host": urlsplit(base_url).hostname or base_url,
        "postal_lines": [
            clean_text(line, 200) for line in postal_address.splitlines() if line.strip()
        ],
        "ph": for_templates(),
    }


def edition_context(content: EditionContent) -> dict[str, Any]:
    date_label = long_date(content.date)
    context = site_context(content.site_name, content.base_url, content.postal_address)
    cadence_title = content.cadence.capitalize()
    context.update(
        cadence=content.cadence,
        cadence_title=cadence_title,
        date_label=date_label,
        period_label="Today's" if content.cadence == "daily" else "This week's",
        intro=clean_text(content.intro, 600) if content.intro else None,
        papers=[_paper_context(paper) for paper in content.papers],
        title=f"{context['site_name']} {content.cadence} digest, {date_label}",
        preview=f"{cadence_title} digest, {date_label}: {PAPER_COUNT} trending",
    )
    return context


def _paper_context(paper: DigestPaper) -> dict[str, Any]:
    """A card's fields. TeX becomes Unicode here, on the plain text before trimming (and
    before Jinja escapes it); the paper itself keeps what the feed said."""
    way = way_in(paper.links, paper.arxiv_id)
    links = [
        (label, url) for name, label in _LINK_LABELS if (url := safe_url(paper.links.get(name)))
    ]
    doi_links = [(f"DOI {way.doi}", way.doi_url)] if way.doi and way.doi_url else []
    # The HTML card's title is the link; an item's own page also shows its host, so a reader
    # sees where a non-arXiv link leads. The text part lists every link, the title's first.
    own = [(way.host, way.url)] if way.host and way.url else []
    text_links = links + ([("DOI", way.doi_url)] if way.doi_url else [])
    if way.url and all(url != way.url for _, url in text_links):
        text_links.insert(0, (way.label, way.url))
    categories = ", ".join(clean_text(c, 40) for c in paper.categories[:MAX_CATEGORIES_SHOWN])
    upvotes_label = f"{paper.upvotes} upvote" + ("" if paper.upvotes == 1 else "s")
    meta = " - ".join(part for part in (upvotes_label if paper.upvotes else "", categories) if part)
    title = tex_to_text(paper.title)
    return {
        "title": clean_text(title, TITLE_LIMIT),
        "title_url": way.url,
        "authors": shorten_authors(tuple(tex_to_text(name) for name in paper.authors)),
        "abstract": trim_abstract(tex_to_text(paper.abstract)),
        "tldr": clean_text(tex_to_text(paper.summary), TLDR_LIMIT) if paper.summary else None,
        "upvotes": paper.upvotes,
        "upvotes_label": upvotes_label,
        "categories": categories,
        "meta": meta,
        "links": own + links + doi_links,
        "all_links": text_links,
        "doi": way.doi,
        "thumbnail": safe_url(paper.thumbnail),
        "thumbnail_alt": "Figure: " + clean_text(title, 60),
    }
