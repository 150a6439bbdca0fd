"""Ingestion: feeds over HTTP to papers in the store, one paper per arXiv id (else DOI, else link).

catalog (sources) -> fetch (bounded HTTP) -> formats (parse) -> normalize (entries)
                  -> persist (merge into papers, sightings, upvote history) ; run ties them.
"""

from pipeline.ingest.catalog import CatalogError, SourceSpec, add_source, list_sources
from pipeline.ingest.entry import FeedError, PaperEntry, ParseResult
from pipeline.ingest.fetch import Fetcher, FetchError
from pipeline.ingest.formats import FORMATS, parse_body
from pipeline.ingest.persist import store_entries
from pipeline.ingest.run import SourceOutcome, ingest_source, ingest_sources

__all__ = [
    "FORMATS",
    "CatalogError",
    "FeedError",
    "FetchError",
    "Fetcher",
    "PaperEntry",
    "ParseResult",
    "SourceOutcome",
    "SourceSpec",
    "add_source",
    "ingest_source",
    "ingest_sources",
    "list_sources",
    "parse_body",
    "store_entries",
]
