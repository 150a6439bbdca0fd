"""A test fetch of a source that is being added: does its URL answer with a feed?

`paperround sources add` asks before it says "added", so a typo in a URL shows at once rather
than at the next scheduled ingestion. Nothing is stored: the answer is only reported (a feed
that is down today may be up tomorrow, so a failed probe never refuses the source).
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.ingest.entry import FeedError
from pipeline.ingest.fetch import Fetcher, FetchError
from pipeline.ingest.formats import parse_body
from pipeline.text import one_line


@dataclass(frozen=True)
class Probe:
    kind: str | None  # the format the body parsed as; None when it did not
    entries: int
    problem: str | None  # one line: why the URL did not give a feed

    @property
    def ok(self) -> bool:
        return self.problem is None


def probe_source(fetcher: Fetcher, url: str, kind: str | None) -> Probe:
    """Fetch `url` once and parse it as `kind` (None: detect); never raises for a bad feed."""
    try:
        fetched = fetcher.fetch(url)
        found, parsed = parse_body(kind, fetched.body, fetched.final_url, fetched.content_type)
    except (FetchError, FeedError) as exc:
        return Probe(None, 0, one_line(str(exc), 300))
    if not parsed.entries:
        return Probe(found, 0, f"the {found} feed has no entries today")
    return Probe(found, len(parsed.entries), None)
