"""Recognizing a paper's identity however a feed spells it: arXiv ids, DOIs, aggregator pages.

arXiv ids (arXiv's "Understanding the arXiv identifier"):
- new style YYMM.NNNN (0704-1412) or YYMM.NNNNN (1501-), an optional vN;
- old style archive(.SUBJECT-CLASS)/YYMMNNN (1991-2007), e.g. hep-th/9901001, math.GT/0309136,
  cond-mat.stat-mech/0601001; the subject class is dropped (arXiv resolves both spellings to
  one paper), and so is the case of the archive;
- in any of: the bare id, "arXiv:ID", "oai:arXiv.org:ID", the arXiv DOI 10.48550/arXiv.ID, or
  a URL on arxiv.org or any of its mirrors and hosts (www., export., lanl., de., ar5iv.labs.,
  the historical xxx.lanl.gov) under /abs/, /pdf/, /html/, /format/, /ps/, /src/, /e-print/,
  with or without vN and .pdf;
- and on the pages of sites that show an arXiv paper under their own URL (`AGGREGATORS`).

Everything here is pure string work: no network, no store.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

_NEW = r"(?P<yymm>\d{4})\.(?P<num>\d{4,5})"
_OLD = r"(?P<archive>[a-z]+(?:-[a-z]+)?)(?:\.[a-z-]{2,16})?/?(?P<onum>\d{7})"
_VERSION = r"(?:v(?P<v>[1-9]\d{0,3}))?"
_ID = re.compile(rf"(?:{_NEW}|{_OLD}){_VERSION}", re.IGNORECASE)
_PREFIXES = re.compile(
    r"^(?:arxiv\s*:\s*|oai:arxiv\.org:|(?:https?://(?:dx\.)?doi\.org/|doi:\s*)?10\.48550/arxiv\.)",
    re.IGNORECASE,
)
_ARXIV_PATH = re.compile(
    r"^/(?:abs|pdf|html|format|ps|src|e-print|pdfs?)/(?P<id>[^?#]+?)(?:\.pdf|\.html)?/?$",
    re.IGNORECASE,
)
_ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(?P<id>.+)$", re.IGNORECASE)
# "Title. (arXiv:1209.2411v1 [math.PR] UPDATED)": the suffix arXiv's older RSS 1.0 feeds add
# (UPDATED: a replacement; CROSS LISTED: listed from another category).
RDF_TITLE_SUFFIX = re.compile(
    r"\s*\(\s*arXiv:(?P<id>[^\s\[\]()]+)\s*(?:\[(?P<category>[^\]]*)\])?"
    r"\s*(?P<marker>UPDATED|CROSS[ -]?LISTED)?\s*\)\s*$",
    re.IGNORECASE,
)


def is_arxiv_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    return (
        host in ("arxiv.org", "xxx.lanl.gov")
        or host.endswith((".arxiv.org", ".xxx.lanl.gov"))
        or host in ("ar5iv.org", "www.ar5iv.org")
    )


def _valid_new_style(year: int, month: int, digits: int) -> bool:
    if not 1 <= month <= 12 or (year, month) < (7, 4):
        return False
    return digits == (4 if (year, month) <= (14, 12) else 5)


def _from_id(text: str) -> tuple[str, int | None] | None:
    match = _ID.fullmatch(text.strip())
    if match is None:
        return None
    version = int(match["v"]) if match["v"] else None
    if match["yymm"]:
        yymm, num = match["yymm"], match["num"]
        if not _valid_new_style(int(yymm[:2]), int(yymm[2:]), len(num)):
            return None
        return f"{yymm}.{num}", version
    month = int(match["onum"][2:4])
    if not 1 <= month <= 12:
        return None
    return f"{match['archive'].lower()}/{match['onum']}", version


def parse_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """The (id without version, version or None) in any spelling above, or None."""
    candidate = text.strip()
    if not candidate or len(candidate) > 500:
        return None
    found = _from_id(candidate)
    if found is not None:
        return found
    if "://" in candidate or candidate.lower().startswith(("arxiv.org/", "www.arxiv.org/")):
        return _from_url(candidate)
    stripped = _PREFIXES.sub("", candidate)
    return _from_id(stripped) if stripped != candidate else None


def _from_url(url: str) -> tuple[str, int | None] | None:
    if "://" not in url:
        url = "https://" + url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    host = (parts.hostname or "").lower()
    path = unquote(parts.path)
    if is_arxiv_host(host):
        match = _ARXIV_PATH.match(path)
        if match is not None:
            return _from_id(match["id"])
        query = parse_qs(parts.query)
        for name in ("id_list", "id"):  # export.arxiv.org/api/query?id_list=2401.01234
            for value in query.get(name, []):
                if (found := _from_id(value.split(",")[0])) is not None:
                    return found
        return None
    if host in ("doi.org", "dx.doi.org", "www.doi.org"):
        match = _ARXIV_DOI.match(path.lstrip("/"))
        return _from_id(match["id"]) if match else None
    return aggregator_arxiv_id(host, path, parts.query)


@dataclass(frozen=True)
class Aggregator:
    """A site showing arXiv papers under its own URLs: where in the URL the id stands."""

    site: str
    example: str  # a page of theirs, for the docs table and the tests
    hosts: tuple[str, ...]
    path: str | None = None  # a regex on the URL path with a group named "id"
    query: str | None = None  # or the query parameter holding the id

    @functools.cached_property
    def path_pattern(self) -> re.Pattern[str] | None:
        return re.compile(self.path, re.IGNORECASE) if self.path else None


# Known sites (docs/sources.md lists them); a source can name a pattern for a new one.
AGGREGATORS = (
    Aggregator(
        "Hugging Face papers",
        "https://huggingface.co/papers/2401.01234",
        ("huggingface.co", "hf.co"),
        r"^/papers/(?P<id>[^/?#]+)",
    ),
    Aggregator(
        "alphaXiv",
        "https://www.alphaxiv.org/overview/2401.01234",
        ("alphaxiv.org", "www.alphaxiv.org"),
        r"^/(?:abs|pdf|overview|html)/(?P<id>[^/?#]+)",
    ),
    Aggregator(
        "arxiv-sanity-lite",
        "https://arxiv-sanity-lite.com/?rank=pid&pid=2401.01234",
        ("arxiv-sanity-lite.com",),
        query="pid",
    ),
    Aggregator(
        "Emergent Mind",
        "https://www.emergentmind.com/papers/2401.01234",
        ("www.emergentmind.com", "emergentmind.com"),
        r"^/(?:papers|articles)/(?P<id>[^/?#]+)",
    ),
    Aggregator(
        "papers.cool",
        "https://papers.cool/arxiv/2401.01234",
        ("papers.cool",),
        r"^/arxiv/(?P<id>[^/?#]+)",
    ),
    Aggregator(
        "SciRate",
        "https://scirate.com/arxiv/2401.01234",
        ("scirate.com", "www.scirate.com"),
        r"^/arxiv/(?P<id>[^?#]+?)/?$",
    ),
    Aggregator(
        "Semantic Scholar",
        "https://www.semanticscholar.org/arxiv/2401.01234",
        ("www.semanticscholar.org", "semanticscholar.org"),
        r"^/arxiv/(?P<id>[^?#]+?)/?$",
    ),
    Aggregator(
        "Papers with Code",
        "https://paperswithcode.com/arxiv/2401.01234",
        ("paperswithcode.com",),
        r"^/arxiv/(?P<id>[^/?#]+)",
    ),
    Aggregator(
        "Bytez",
        "https://bytez.com/docs/arxiv/2401.01234",
        ("bytez.com",),
        r"^/docs/arxiv/(?P<id>[^/?#]+)",
    ),
    Aggregator(
        "ar5iv",
        "https://ar5iv.org/html/2401.01234",
        ("ar5iv.org", "www.ar5iv.org"),
        r"^/(?:abs|html)/(?P<id>[^?#]+?)/?$",
    ),
)
_BY_HOST = {host: site for site in AGGREGATORS for host in site.hosts}


def aggregator_arxiv_id(host: str, path: str, query: str) -> tuple[str, int | None] | None:
    """The arXiv id in the URL of a known aggregator's page, or None."""
    site = _BY_HOST.get(host.lower())
    if site is None:
        return None
    pattern = site.path_pattern
    if pattern is not None and (match := pattern.match(path)) is not None:
        return _from_id(match["id"])
    if site.query is not None:
        for value in parse_qs(query).get(site.query, []):
            if (found := _from_id(value)) is not None:
                return found
    return None


def compile_id_pattern(pattern: str) -> re.Pattern[str]:
    """A source's own pattern for a site not in the table: a regex searched in each entry's
    links, with a group named "id" around the arXiv id. ValueError says what is wrong."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"id pattern {pattern!r} is not a regular expression: {exc}") from None
    if "id" not in compiled.groupindex:
        raise ValueError(f"id pattern {pattern!r} needs a group named id: (?P<id>...)")
    return compiled


def arxiv_id_by_pattern(pattern: re.Pattern[str], url: str) -> tuple[str, int | None] | None:
    found = pattern.search(url)
    return _from_id(unquote(found["id"])) if found is not None and found["id"] else None


_CATEGORY = re.compile(r"^[a-z]+(?:-[a-z]+)?(?:\.[A-Za-z-]{2,16})?$")
_LISTING_PATH = re.compile(r"/(?:rss|atom)/(?P<cats>[^/?#]+)/?$")
CROSS_LISTS = frozenset({"cross", "replace-cross"})


def is_arxiv_category(name: str) -> bool:
    """An arXiv category name ("cs.LG", "hep-th", "physics.flu-dyn"), not an MSC or ACM class
    ("57M25", "I.2.6"), which the arXiv API also writes as categories."""
    return _CATEGORY.match(name) is not None


def listing_category(url: str, channel_title: str) -> str | None:
    """The one arXiv category an arXiv listing is of ("rss.arxiv.org/rss/cs.AI", a channel
    titled "cs.AI updates on arXiv.org"); None for a listing of several ("cs.AI+cs.LG")."""
    try:
        found = _LISTING_PATH.search(urlsplit(url).path)
    except ValueError:
        found = None
    if found is not None:
        names = unquote(found["cats"]).split("+")
        return names[0] if len(names) == 1 and _CATEGORY.match(names[0]) else None
    first = channel_title.strip().split(" ", 1)[0]
    return first if first and _CATEGORY.match(first) and "updates" in channel_title else None


def with_listing(
    categories: list[str], listing: str | None, announce_type: str | None
) -> list[str]:
    """A cross-listed paper belongs to the listing it was cross-listed into, whatever its own
    categories say: a reader who follows that category gets it."""
    if listing and announce_type in CROSS_LISTS and listing not in categories:
        return [*categories, listing]
    return categories


@dataclass(frozen=True)
class RdfTitle:
    title: str
    arxiv: str | None  # the id as written ("1209.2411v1")
    category: str | None  # the primary category in brackets
    announce_type: str | None  # "new", "replace" (UPDATED) or "cross" (CROSS LISTED)


def split_rdf_title(title: str) -> RdfTitle:
    """The parts of an older arXiv RSS 1.0 title; the title as it is without the suffix."""
    found = RDF_TITLE_SUFFIX.search(title)
    if found is None:
        return RdfTitle(title, None, None, None)
    marker = (found["marker"] or "").upper()
    kind = "replace" if marker == "UPDATED" else "cross" if marker else "new"
    category = (found["category"] or "").strip() or None
    return RdfTitle(title[: found.start()].rstrip().rstrip("."), found["id"], category, kind)


# --- DOIs ------------------------------------------------------------------------------------

_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_DOI_PREFIX = re.compile(r"^doi:\s*", re.IGNORECASE)
_DOI_HOSTS = frozenset({"doi.org", "dx.doi.org", "www.doi.org"})
# Preprint servers put the version in the DOI itself; folding it keeps one paper per preprint.
# Each writes it after a separator (chemRxiv "-v2", Research Square "/v2", Preprints.org ".v2",
# OSF "_v2"), except bioRxiv/medRxiv, whose all-digit suffix takes "v2" directly. The separator
# is required elsewhere: a chemRxiv or OSF code may itself end in "v" and a digit
# ("chemrxiv-2024-kq3v2" is version-less), and must not lose them.
_VERSIONED_DOI = re.compile(
    r"^(?P<base>10\.(?:26434|21203|20944|31219|31234|31235|31222)/.+?)[-_./]v(?P<v>\d{1,3})$"
    r"|^(?P<digits>10\.1101/\d[\d.]*)v(?P<dv>\d{1,3})$",
    re.IGNORECASE,
)


def parse_doi(text: str) -> str | None:
    """A DOI from "10.x/y", "doi:10.x/y" or a doi.org URL, lower-cased (DOIs are case-blind)."""
    candidate = text.strip()
    if not candidate or len(candidate) > 500:
        return None
    if "://" in candidate:
        try:
            parts = urlsplit(candidate)
        except ValueError:
            return None
        if parts.scheme.lower() not in ("http", "https") or parts.hostname not in _DOI_HOSTS:
            return None
        candidate = unquote(parts.path.lstrip("/"))
    else:
        candidate = _DOI_PREFIX.sub("", candidate)
    candidate = candidate.rstrip(".,;")
    return candidate.lower() if _DOI.match(candidate) else None


def split_doi_version(doi: str) -> tuple[str, int | None]:
    """(DOI without its version, version) for preprint servers that version in the DOI
    (chemRxiv "-v2", Research Square "/v2", Preprints.org ".v2", bioRxiv "v2"); else as is."""
    found = _VERSIONED_DOI.match(doi)
    if found is None:
        return doi, None
    if found["digits"]:
        return found["digits"], int(found["dv"])
    return found["base"], int(found["v"])
