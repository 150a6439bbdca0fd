"""Normalization shared by every source format: ids, links, plain single-line text, one builder.

Feeds are untrusted: every text field that reaches the store is single-line plain text, and
every link goes through `canonical_url`, so templates and the CLI never see markup, control
characters or `javascript:` links, whichever format the paper came from.

Text stays text: a field declared plain (every arXiv format, titles, JSON strings) keeps its
"<", ">" and "&" as characters, so "0<p<1" or "x<y" survives into the store and is escaped
wherever it is shown. Only a field declared as HTML that really holds markup (a tag a browser
knows, a comment or a character reference) goes through the HTML sanitizer. Bidi controls and
invisible characters are dropped from titles and author names (they can reorder or hide text).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import nh3

from pipeline.ingest.entry import PaperEntry
from pipeline.ingest.identifiers import (
    arxiv_id_by_pattern,
    parse_arxiv_id,
    parse_doi,
    split_doi_version,
)
from pipeline.timeutil import utcnow

LINK_KINDS = ("abs", "pdf", "html", "code", "project", "doi", "link")
MAX_KEYWORDS = 30  # a source's own keywords kept per paper
MAX_COUNT = 2**31 - 1  # counters are 32-bit columns: no paper has more upvotes than this
EARLIEST_DATE = datetime(1800, 1, 1, tzinfo=UTC)
LATEST_AHEAD = timedelta(days=366)  # feeds date ahead (time zones, embargoes), not by years

# str.split() breaks on whitespace controls and U+2028/U+2029/U+0085; the other C0/C1 controls
# and DEL are not whitespace to Python, so they are turned into spaces first.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")
# Block boundaries that a browser would render as a break: keep the words apart.
_BLOCK_TAG = re.compile(
    r"<(/?)(p|br|div|li|tr|td|th|h[1-6]|ul|ol|dl|dt|dd|blockquote|pre|table|hr)\b",
    re.IGNORECASE,
)
# What makes a fragment declared as HTML really HTML: a tag a browser knows (with its ">"),
# a comment, or a character reference. "0<p<1" and "a < b" are none of these.
_HTML_TAGS = (
    "a|abbr|b|big|blockquote|br|center|cite|code|dd|del|dfn|div|dl|dt|em|font|h[1-6]|hr|i|img|"
    "ins|kbd|li|mark|math|mi|mn|mo|msub|msup|mrow|ol|p|pre|q|s|samp|small|span|strike|strong|"
    "sub|sup|table|tbody|td|th|thead|tr|tt|u|ul|var|script|style|iframe|object|embed|form|"
    "input|link|meta|svg|video|audio|figure|figcaption|section|article|header|footer|nav"
)
_REAL_MARKUP = re.compile(
    # a tag with no attributes, or with at least one name=value ("<b and c>" is maths)
    rf"<\s*/?\s*(?:{_HTML_TAGS})(?:\s[^<>=]*=[^<>]*)?\s*/?\s*>"
    r"|<!--|&(?:#\d{1,7}|#x[0-9a-f]{1,6}|[a-z]{2,8});",
    re.IGNORECASE,
)
# Bidi embeddings, overrides and isolates, marks, and invisible separators (U+200B, U+2060,
# U+FEFF, U+180E). ZWNJ/ZWJ (U+200C/U+200D) stay: Persian and Indic scripts spell with them.
_INVISIBLE = re.compile(
    "[\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_ASCII_CONTROLS = bytes(range(32)) + b"\x7f"
_SPACE = re.compile(r"\s")
_AUTHOR_SPLIT = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")


class UnusableEntry(ValueError):
    """`make_entry` refused an entry; the message is the one-line reason for SkippedEntry."""


def canonical_url(url: str) -> str | None:
    """http(s) URL with lower-cased scheme and host, no fragment, no utm_* tracking parameters.

    Anything else (javascript:, data:, relative, no host) is None: it must never become a link.
    """
    candidate = url.strip()
    if not candidate or len(candidate) > 2000 or _SPACE.search(candidate):
        return None
    try:
        parts = urlsplit(candidate)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host or "@" in parts.netloc:
        return None
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        netloc = f"{netloc}:{port}"
    query = parts.query
    if "utm_" in query.lower():
        kept = [
            (k, v)
            for k, v in parse_qsl(query, keep_blank_values=True)
            if not k.lower().startswith("utm_")
        ]
        query = urlencode(kept)
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def single_line(text: str) -> str:
    """All whitespace runs, line breaks and control characters become one space; stripped.

    Nothing else changes: "<", ">" and "&" are characters of the text (escaped where shown).
    """
    if not text:
        return ""
    if text.isascii():
        # bytes.translate is C-speed; str.isprintable looks every character up in Unicode tables.
        raw = text.encode("ascii")
        if len(raw.translate(None, _ASCII_CONTROLS)) != len(raw):
            text = " ".join(_CONTROL.sub(" ", text).split())
        elif "  " in text or text[0] == " " or text[-1] == " ":
            text = " ".join(text.split())
    else:
        text = " ".join(_CONTROL.sub(" ", _strip_unencodable(text)).split())
    return text


def visible_line(text: str) -> str:
    """`single_line` without bidi controls and invisible characters: for titles and names,
    where they could reorder what a reader sees or hide characters from a comparison."""
    if not text.isascii():
        text = _INVISIBLE.sub("", text)
    return single_line(text)


def looks_like_html(text: str) -> bool:
    """Whether text declared as HTML holds real markup (else it is plain text as it is)."""
    return ("<" in text or "&" in text) and _REAL_MARKUP.search(text) is not None


def feed_text(text: str, html_declared: bool) -> str:
    """A text field as the feed declared it: plain stays plain; HTML only when it is HTML."""
    if html_declared and looks_like_html(text):
        return html_to_text(text)
    return single_line(text)


def _strip_unencodable(text: str) -> str:
    """Lone surrogates cannot be stored or mailed as UTF-8: replace them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def html_to_text(text: str) -> str:
    """Plain single-line text from an HTML fragment: every tag, script/style body and handler gone.

    nh3 (ammonia, an html5ever parse) does the stripping, so hostile markup is parsed the way a
    browser would rather than guessed at with regular expressions. The result is text: a
    "&lt;b&gt;" in the fragment is the three characters "<b>" afterwards, escaped where shown.
    """
    if not text:
        return ""
    if "<" in text or "&" in text:
        text = _BLOCK_TAG.sub(r" <\1\2", _strip_unencodable(text))
        text = nh3.clean(
            text, tags=set(), clean_content_tags={"script", "style", "template"}, attributes={}
        )
        text = html.unescape(text)
    return single_line(text)


def split_authors(text: str) -> list[str]:
    """Names from "A, B and C" / "A, B, and C" / "A and B"."""
    return [name for name in _AUTHOR_SPLIT.split(text.strip()) if name]


def paper_key(arxiv_id: str | None, doi: str | None, url: str | None) -> str | None:
    """The store identity: arXiv id first (versions are one paper), then DOI, then the link."""
    if arxiv_id:
        return f"arxiv:{arxiv_id}"
    if doi:
        return f"doi:{doi}"
    if url:
        return f"url:{url}"
    return None


def as_utc(value: datetime | None) -> datetime | None:
    """Aware UTC; a naive time from a feed is taken as UTC (feeds rarely mean local time)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def non_negative_int(value: object) -> int | None:
    """Counts from JSON: ints (not bools) >= 0, else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def make_entry(
    *,
    title: str | None,
    arxiv: str | None = None,
    doi: str | None = None,
    link: str | None = None,
    external_id: str | None = None,
    abstract: str | None = None,
    authors: Iterable[str] = (),
    categories: Iterable[str] = (),
    primary_category: str | None = None,
    links: Mapping[str, str | None] | None = None,
    comment: str | None = None,
    thumbnail: str | None = None,
    published_at: datetime | None = None,
    upvotes: int | None = None,
    num_comments: int | None = None,
    github_stars: int | None = None,
    announce_type: str | None = None,
    arxiv_html: bool = False,
    title_html: bool = False,
    text_html: bool = False,
    summary: str | None = None,
    keywords: Iterable[str] = (),
    organization: str | None = None,
    featured_at: datetime | None = None,
) -> PaperEntry:
    """Build a PaperEntry the same way for every format. Raises UnusableEntry with a reason.

    `arxiv`, `doi` and `link` are raw texts (any form the parsers accept). A missing title
    falls back to the id so the paper still reads as something in a digest. `title_html` and
    `text_html` say the feed declared the title, or the abstract and comment, as HTML; every
    other field is plain text. Absurd values (counts past 32 bits, dates no paper has) refuse
    the entry, so one bad item costs that item and never the feed.
    """
    counts = {"upvotes": upvotes, "comments": num_comments, "GitHub stars": github_stars}
    for name, value in counts.items():
        if value is not None and not 0 <= value <= MAX_COUNT:
            raise UnusableEntry(f"{name} {str(value)[:24]} out of range")
    published = _plausible_date(published_at)
    featured = _plausible_date(featured_at)
    parsed = parse_arxiv_id(arxiv) if arxiv else None
    arxiv_id, version = parsed if parsed else (None, None)
    doi_norm = parse_doi(doi) if doi else None
    if doi_norm is not None:  # a preprint server's versioned DOI is one paper in versions
        doi_norm, doi_version = split_doi_version(doi_norm)
        if arxiv_id is None and doi_version is not None:
            version = doi_version
    # The link only matters without an arXiv id (as the key or the "link" link): skip the work.
    link_norm = canonical_url(link) if link and not arxiv_id else None
    clean_title = visible_line(feed_text(title or "", title_html))
    key = paper_key(arxiv_id, doi_norm, link_norm)
    if key is None:
        reason = "no arXiv id, DOI or http(s) link"
        raise UnusableEntry(f"{reason}" if clean_title else f"no title and {reason}")
    if external_id:
        external = single_line(external_id)
    elif arxiv_id:
        external = f"{arxiv_id}v{version}" if version else arxiv_id
    else:
        external = key.split(":", 1)[1]
    cats = _unique(single_line(c) for c in categories)
    primary = single_line(primary_category) if primary_category else None
    return PaperEntry(
        key=key,
        title=clean_title or (f"arXiv:{arxiv_id}" if arxiv_id else external),
        external_id=external,
        arxiv_id=arxiv_id,
        version=version,
        doi=doi_norm,
        abstract=feed_text(abstract or "", text_html),
        authors=_unique(visible_line(single_line(a)) for a in authors),
        categories=cats,
        primary_category=primary or (cats[0] if cats else None),
        links=_links(arxiv_id, doi_norm, link_norm, links or {}, arxiv_html),
        comment=(feed_text(comment, text_html) or None) if comment else None,
        thumbnail=canonical_url(thumbnail) if thumbnail else None,
        published_at=published,
        upvotes=upvotes,
        num_comments=num_comments,
        github_stars=github_stars,
        announce_type=(single_line(announce_type) or None) if announce_type else None,
        summary=(single_line(summary) or None) if summary else None,
        keywords=_unique(single_line(k)[:100] for k in keywords)[:MAX_KEYWORDS],
        organization=(visible_line(organization)[:200] or None) if organization else None,
        featured_at=featured,
    )


def with_id_pattern(entry: PaperEntry, pattern: re.Pattern[str]) -> PaperEntry:
    """The entry keyed by the arXiv id its source's own pattern finds in its link or id (a
    site the aggregator table does not know); unchanged when it has an id or none is found."""
    if entry.arxiv_id is not None:
        return entry
    for text in (entry.links.get("link"), entry.external_id):
        found = arxiv_id_by_pattern(pattern, text) if text else None
        if found is not None:
            arxiv_id, version = found
            given = {kind: url for kind, url in entry.links.items() if kind != "link"}
            return replace(
                entry,
                key=f"arxiv:{arxiv_id}",
                arxiv_id=arxiv_id,
                version=version,
                links=_links(arxiv_id, entry.doi, None, given, arxiv_html=False),
            )
    return entry


def _plausible_date(value: datetime | None) -> datetime | None:
    """The date in UTC, or UnusableEntry for one no paper can have (or none can be stored)."""
    try:
        when = as_utc(value)
    except (OverflowError, ValueError):
        raise UnusableEntry("publication date out of range") from None
    if when is not None and not EARLIEST_DATE <= when <= utcnow() + LATEST_AHEAD:
        raise UnusableEntry(f"publication date {when:%Y-%m-%d} out of range")
    return when


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for item in items if item))


def _links(
    arxiv_id: str | None,
    doi: str | None,
    link: str | None,
    given: Mapping[str, str | None],
    arxiv_html: bool,
) -> dict[str, str]:
    """Known link kinds only, each a canonical http(s) URL; arXiv/DOI links derived from ids."""
    links: dict[str, str] = {}
    if arxiv_id:
        links["abs"] = f"https://arxiv.org/abs/{arxiv_id}"
        links["pdf"] = f"https://arxiv.org/pdf/{arxiv_id}"
        if arxiv_html:
            links["html"] = f"https://arxiv.org/html/{arxiv_id}"
    if doi:
        links["doi"] = f"https://doi.org/{doi}"
    if link and not arxiv_id:
        links["link"] = link
    for kind, url in given.items():
        if kind in LINK_KINDS and kind not in links and url:
            clean = canonical_url(url)
            if clean:
                links[kind] = clean
    return links
