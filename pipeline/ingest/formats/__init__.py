"""The source formats by kind, auto-detection, and the one entry point `parse_body`."""

from __future__ import annotations

from pipeline.ingest.entry import FeedError, ParseResult, SourceFormat
from pipeline.ingest.formats import (
    arxiv_atom,
    arxiv_rdf,
    arxiv_rss,
    biorxiv,
    generic_feed,
    hf_daily,
)
from pipeline.ingest.formats.xmlsafe import describe_non_feed

# Detection order matters: the arXiv-specific formats before the generic feed, which would
# also accept arXiv's RSS and Atom but knows less about them.
FORMATS: dict[str, SourceFormat] = {
    module.FORMAT.kind: module.FORMAT
    for module in (arxiv_rss, arxiv_rdf, arxiv_atom, biorxiv, hf_daily, generic_feed)
}


def get_format(kind: str) -> SourceFormat:
    """The format for `kind`; an unknown kind is a ValueError listing the valid ones."""
    try:
        return FORMATS[kind]
    except KeyError:
        valid = ", ".join(FORMATS)
        raise ValueError(f"unknown source kind {kind!r}; valid kinds: {valid}") from None


def detect_kind(body: bytes, content_type: str | None) -> str:
    """The first kind whose sniff accepts the body; FeedError saying what the body is if none."""
    for kind, source_format in FORMATS.items():
        if source_format.sniff(body, content_type):
            return kind
    raise FeedError(describe_non_feed(body, content_type))


def parse_body(
    kind: str | None, body: bytes, url: str, content_type: str | None = None
) -> tuple[str, ParseResult]:
    """Parse with the given kind, or the detected one when `kind` is None."""
    chosen = kind if kind is not None else detect_kind(body, content_type)
    return chosen, get_format(chosen).parse(body, url=url, content_type=content_type)


__all__ = ["FORMATS", "FeedError", "ParseResult", "detect_kind", "get_format", "parse_body"]
