"""Ingestion: fetch each source, parse it, store its papers, and record how it went.

A failing source never stops the others and never touches what is already stored: its error is
recorded on the source row (shown by `paperround sources list`) and logged, in one line. A
source that keeps failing is fetched less often (twice the wait after each failure in a row,
at most a day), and never before the time a server's Retry-After asked for.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pipeline.ingest.entry import FeedError
from pipeline.ingest.fetch import Fetcher, FetchError, FetchResult
from pipeline.ingest.formats import get_format, parse_body
from pipeline.ingest.identifiers import compile_id_pattern
from pipeline.ingest.normalize import with_id_pattern
from pipeline.ingest.persist import store_entries
from pipeline.store.db import write_transaction
from pipeline.store.models import Source
from pipeline.store.status import SourceStatus
from pipeline.text import one_line
from pipeline.timeutil import utcnow

log = logging.getLogger(__name__)
_VALUES = re.compile(r"\d[\d,.\-:e+]*|'[^']*'")  # numbers, dates and quoted values
MAX_BACKOFF = timedelta(days=1)


@dataclass
class SourceOutcome:
    """How one source's ingestion went, for the CLI summary and the source row."""

    name: str
    status: SourceStatus
    kind: str = ""
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    # why items were skipped, by reason (counted): "upvotes ... out of range" and the like
    skip_reasons: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "status": str(self.status)}

    def skip(self, reason: str) -> None:
        self.skipped += 1
        # counted by the reason's wording without its particular values, so a feed of
        # 10,000 bad dates is one line with a count, not 10,000 lines
        kind = _VALUES.sub("…", reason)
        self.skip_reasons[kind] = self.skip_reasons.get(kind, 0) + 1


def _record(
    factory: sessionmaker[Session],
    source_id: int,
    outcome: SourceOutcome,
    now: datetime,
    etag: str | None = None,
    last_modified: str | None = None,
    kind: str | None = None,
    retry_after: float | None = None,
) -> None:
    with write_transaction(factory) as session:
        source = session.get(Source, source_id)
        if source is None:  # removed while we fetched it
            return
        source.last_fetched_at = now
        source.last_status = outcome.status
        source.last_error = outcome.error
        source.last_counts = {
            "new": outcome.new,
            "updated": outcome.updated,
            "unchanged": outcome.unchanged,
            "skipped": outcome.skipped,
            "skip_reasons": dict(sorted(outcome.skip_reasons.items(), key=lambda kv: -kv[1])[:10]),
        }
        if outcome.status != SourceStatus.FAILED:
            source.last_ok_at = now
            source.etag = etag
            source.last_modified = last_modified
            source.failures = 0
            source.next_fetch_at = None
        else:
            source.failures = (source.failures or 0) + 1
            source.next_fetch_at = now + backoff(
                source.failures, source.interval_minutes, retry_after
            )
        if kind and source.kind == "auto":
            source.kind = kind


def backoff(failures: int, interval_minutes: int, retry_after: float | None) -> timedelta:
    """How long a source that failed `failures` times in a row waits before its next fetch:
    its interval, doubled per failure after the first, at most a day; and at least what the
    server's Retry-After asked for (also capped at a day: a year-long one is a typo)."""
    interval = timedelta(minutes=max(1, interval_minutes))
    doubled = interval * (1 << min(max(0, failures - 1), 16))
    asked = timedelta(seconds=retry_after or 0)
    return min(max(doubled, asked), max(MAX_BACKOFF, interval))


MAX_PAGES = 50  # pages of a paged API (bioRxiv: 100 records each) read in one ingestion


def ingest_source(
    factory: sessionmaker[Session],
    source: Source,
    fetcher: Fetcher,
    now: datetime | None = None,
    *,
    catch_up_days: int = 0,
) -> SourceOutcome:
    """Fetch, parse and store one source; never raises for a bad feed (the outcome says why).

    A format that can ask for past days (Hugging Face daily papers) first fetches the days
    missed since the source's last good fetch, at most `catch_up_days` of them; a paged API
    is followed page by page, at most MAX_PAGES."""
    now = now or utcnow()
    outcome = SourceOutcome(name=source.name, status=SourceStatus.FAILED, kind=source.kind)
    retry_after = None
    try:
        kind = None if source.kind == "auto" else source.kind
        past = (
            get_format(kind).catch_up_urls(source.url, source.last_ok_at, now, catch_up_days)
            if kind is not None and catch_up_days
            else []
        )
        for url in past:  # no validators: each is a different document
            try:
                outcome.kind = _store_pages(factory, source, fetcher.fetch(url), kind, outcome, now)
            except (FetchError, FeedError) as exc:  # today's page still counts
                outcome.skip(f"catching up failed: {one_line(str(exc), 200)}")
        fetched = fetcher.fetch(source.url, etag=source.etag, last_modified=source.last_modified)
        if fetched.not_modified:
            outcome.status = SourceStatus.NOT_MODIFIED
            _record(factory, source.id, outcome, now, fetched.etag, fetched.last_modified)
            return outcome
        outcome.kind = _store_pages(factory, source, fetched, kind, outcome, now, fetcher)
        outcome.status = SourceStatus.OK
        _record(factory, source.id, outcome, now, fetched.etag, fetched.last_modified, outcome.kind)
    except FetchError as exc:
        outcome.error = one_line(str(exc), 500)
        retry_after = exc.retry_after
    except FeedError as exc:
        outcome.error = one_line(str(exc), 500)
    except Exception as exc:  # a bug must not take the other sources down with it
        log.exception("ingesting %s failed unexpectedly", source.name)
        outcome.error = one_line(f"internal error ({type(exc).__name__}): {exc}; see the log", 500)
    if outcome.status == SourceStatus.FAILED:
        log.warning("source %s failed: %s", source.name, outcome.error)
        _record(factory, source.id, outcome, now, retry_after=retry_after)
    return outcome


def _store_pages(
    factory: sessionmaker[Session],
    source: Source,
    fetched: FetchResult,
    kind: str | None,
    outcome: SourceOutcome,
    now: datetime,
    fetcher: Fetcher | None = None,
) -> str:
    """Parse and store one fetched body (and, with a fetcher, the pages after it); returns the
    kind it was parsed as. Counts add up in `outcome`."""
    pages = 0
    own_pattern = (source.options or {}).get("id_pattern")
    try:
        pattern = compile_id_pattern(own_pattern) if own_pattern else None
    except ValueError as exc:
        raise FeedError(
            f"{exc}; remove the source and add it again with a valid --id-pattern"
        ) from None
    while True:
        found_kind, parsed = parse_body(kind, fetched.body, fetched.final_url, fetched.content_type)
        kind = found_kind
        for skipped in parsed.skipped:
            outcome.skip(skipped.reason)
        entries = parsed.entries
        if pattern is not None:
            entries = [with_id_pattern(entry, pattern) for entry in entries]
        with write_transaction(factory) as session:
            counts = store_entries(session, source.id, entries, now)
        for _key, reason in counts.refused:
            outcome.skip(reason)
        outcome.new += counts.new
        outcome.updated += counts.updated
        outcome.unchanged += counts.unchanged
        pages += 1
        if fetcher is None or parsed.next_url is None or pages >= MAX_PAGES:
            return found_kind
        fetched = fetcher.fetch(parsed.next_url)


def select_sources(session: Session, names: Sequence[str] = ()) -> list[Source]:
    """Enabled sources, or exactly the named ones (unknown names raise ValueError)."""
    if not names:
        return list(session.scalars(select(Source).where(Source.enabled).order_by(Source.name)))
    found = {s.name: s for s in session.scalars(select(Source).where(Source.name.in_(names)))}
    unknown = [name for name in names if name not in found]
    if unknown:
        raise ValueError(f"unknown source(s): {', '.join(unknown)}; see `paperround sources list`")
    return [found[name] for name in names]


def ingest_sources(
    factory: sessionmaker[Session],
    fetcher: Fetcher,
    names: Sequence[str] = (),
    on_done: Callable[[SourceOutcome], None] | None = None,
    *,
    catch_up_days: int = 0,
) -> list[SourceOutcome]:
    """Ingest the chosen sources one after another; `on_done` reports progress per source."""
    with factory() as session:
        sources = select_sources(session, names)
    outcomes = []
    for source in sources:
        outcome = ingest_source(factory, source, fetcher, catch_up_days=catch_up_days)
        outcomes.append(outcome)
        if on_done is not None:
            on_done(outcome)
    return outcomes
