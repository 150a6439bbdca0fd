"""Every paper has a way in: where its title links, and its DOI, for the mail and the site.

An arXiv paper links to its abstract page, but a paper from a generic RSS/Atom feed is keyed
by its link or its DOI (pipeline/ingest/normalize.py) and has no abstract page: its title
links to the item's own link, else to the HTML version, else to doi.org. A paper that
carries a DOI shows it as text too (doi.org link beside it), so a reader can cite or resolve
it. One function decides this for the digest cards (pipeline/render/context.py) and for
the site's pages (templates/web), so both always agree. Links are untrusted: each passes
`safe_url` or is not shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from pipeline.render.fields import neutralize_tokens, safe_url

# Where a title links, best first: the arXiv abstract, the item's own page, the HTML
# full text, the DOI's resolver.
TITLE_KINDS = ("abs", "link", "html", "doi")
DOI_HOSTS = frozenset(("doi.org", "dx.doi.org", "www.doi.org"))
DOI_LIMIT = 300  # the store's column width


@dataclass(frozen=True, slots=True)
class WayIn:
    """A paper's way in: `url` for its title (None: no safe link at all), `label` names it
    in the text part ("Abstract", "Link", ...), `host` is set when the title goes to an
    item's own page (shown, so a reader sees where a non-arXiv link leads), and the DOI."""

    url: str | None
    label: str
    host: str | None = None
    doi: str | None = None
    doi_url: str | None = None


_LABELS = {"abs": "Abstract", "link": "Link", "html": "HTML", "doi": "DOI"}


def way_in(links: Mapping[str, object], arxiv_id: str | None = None) -> WayIn:
    """The title link and DOI of a paper with these links (the store's links JSON)."""
    doi, doi_url = doi_of(links)
    for kind in TITLE_KINDS:
        url = safe_url(_text(links.get(kind)))
        if url is not None:
            host = urlsplit(url).hostname if kind == "link" else None
            return WayIn(url, _LABELS[kind], host, doi, doi_url)
    if arxiv_id:  # links lost or unsafe, but the id alone names the abstract page
        url = safe_url(f"https://arxiv.org/abs/{arxiv_id}")
        return WayIn(url, "Abstract", None, doi, doi_url)
    return WayIn(None, "Link", None, doi, doi_url)


def doi_of(links: Mapping[str, object]) -> tuple[str | None, str | None]:
    """(the DOI as text, its doi.org URL) from the links' "doi" entry, or (None, None)."""
    url = safe_url(_text(links.get("doi")))
    if url is None:
        return None, None
    parts = urlsplit(url)
    if (parts.hostname or "") not in DOI_HOSTS:
        return None, None
    doi = neutralize_tokens(" ".join(unquote(parts.path.lstrip("/")).split()))
    if not doi.startswith("10.") or "/" not in doi or len(doi) > DOI_LIMIT:
        return None, None
    return doi, url


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
