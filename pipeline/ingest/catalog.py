"""The catalog of sources: add, list, remove, and seed the defaults from settings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pipeline.ingest.formats import FORMATS
from pipeline.ingest.identifiers import compile_id_pattern
from pipeline.store.models import Source

AUTO = "auto"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_PATTERN = 500


class CatalogError(ValueError):
    """A source could not be added or found; the message says what to do instead."""


@dataclass(frozen=True)
class SourceSpec:
    name: str
    url: str
    kind: str = AUTO
    id_pattern: str | None = None  # where this site's links carry the arXiv id


def parse_spec(text: str) -> SourceSpec:
    """Parse the `name|kind|url` form used by the default_sources setting."""
    parts = [part.strip() for part in text.split("|")]
    if len(parts) != 3:
        raise CatalogError(f"source {text!r} must look like name|kind|url")
    return SourceSpec(name=parts[0], kind=parts[1] or AUTO, url=parts[2])


def validate_spec(spec: SourceSpec) -> None:
    if not _NAME.match(spec.name):
        raise CatalogError(
            f"source name {spec.name!r} must be 1-100 letters, digits, '.', '_' or '-'"
        )
    if spec.kind != AUTO and spec.kind not in FORMATS:
        kinds = ", ".join(sorted(FORMATS))
        raise CatalogError(f"unknown kind {spec.kind!r}; choose one of: {kinds} (or omit --kind)")
    parts = urlsplit(spec.url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise CatalogError(f"source URL {spec.url!r} must be an http:// or https:// URL")
    if spec.id_pattern is not None:
        if len(spec.id_pattern) > MAX_PATTERN:
            raise CatalogError(f"the id pattern is longer than {MAX_PATTERN} characters")
        try:
            compile_id_pattern(spec.id_pattern)
        except ValueError as exc:
            raise CatalogError(str(exc)) from None


def add_source(session: Session, spec: SourceSpec) -> Source:
    """Add a source; the caller commits. Duplicate names raise CatalogError."""
    validate_spec(spec)
    options = {"id_pattern": spec.id_pattern} if spec.id_pattern else None
    source = Source(name=spec.name, kind=spec.kind, url=spec.url, options=options)
    session.add(source)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise CatalogError(
            f"a source named {spec.name!r} exists already; remove it first or pick another name"
        ) from None
    return source


def list_sources(session: Session) -> list[Source]:
    return list(session.scalars(select(Source).order_by(Source.name)))


def remove_source(session: Session, name: str) -> None:
    """Remove a source and its sightings (papers stay: other sources may carry them)."""
    source = session.scalar(select(Source).where(Source.name == name))
    if source is None:
        raise CatalogError(f"no source named {name!r}; see `paperround sources list`")
    session.delete(source)


def sources_to_fetch(session: Session, now: datetime) -> list[int]:
    """Enabled sources never fetched, or whose interval has passed since their last fetch;
    a failing source waits until its next_fetch_at (backoff, a server's Retry-After)."""
    sources = session.execute(
        select(
            Source.id, Source.last_fetched_at, Source.interval_minutes, Source.next_fetch_at
        ).where(Source.enabled)
    ).all()
    return [
        sid
        for sid, last, minutes, not_before in sources
        if (not_before is None or now >= not_before)
        and (last is None or now - last >= timedelta(minutes=max(1, minutes)))
    ]


def newest_fetch(session: Session) -> datetime | None:
    """When any source was last fetched (None: never): new papers can only come after it."""
    return session.scalar(select(func.max(Source.last_fetched_at)))


def source_by_id(session: Session, source_id: int) -> Source | None:
    return session.get(Source, source_id)


def enabled_source_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Source.id).where(Source.enabled).order_by(Source.name)))


def seed_defaults(session: Session, specs: tuple[str, ...]) -> list[Source]:
    """Add the configured default sources when the catalog is empty (first `init`)."""
    if session.scalar(select(Source.id).limit(1)) is not None:
        return []
    return [add_source(session, parse_spec(text)) for text in specs]


MAX_INTERVAL_MINUTES = 7 * 24 * 60


def change_source(
    session: Session,
    name: str,
    *,
    enabled: bool | None = None,
    interval_minutes: int | None = None,
    kind: str | None = None,
) -> Source:
    """Switch a source on or off, or change how often it is fetched; the caller commits.

    Enabling a source that was backing off after failures lets it be fetched at once."""
    source = session.scalar(select(Source).where(Source.name == name))
    if source is None:
        raise CatalogError(f"no source named {name!r}; see `paperround sources list`")
    if interval_minutes is not None:
        if not 1 <= interval_minutes <= MAX_INTERVAL_MINUTES:
            raise CatalogError(
                f"interval must be 1 to {MAX_INTERVAL_MINUTES} minutes, not {interval_minutes}"
            )
        source.interval_minutes = interval_minutes
    if enabled is not None:
        if enabled and not source.enabled:
            source.next_fetch_at = None
        source.enabled = enabled
    if kind is not None and source.kind == AUTO:
        source.kind = kind
    return source
