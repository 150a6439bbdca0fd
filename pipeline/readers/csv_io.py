"""Readers in and out as CSV: import for a list moving to Paperround, export for backups.

Every imported row goes through the same validation and consent rules as the web form: an
import may add readers and vouch for new or pending ones (`confirmed`), but it honors the
status column of its own export, so a reader who unsubscribed, bounced or complained is never
made active by an import, not even with `confirmed`. What `export_rows` writes, `import_csv`
reads back (preferences, status and the consent record included).

Lists (categories, keywords) are written separated by ";" and read separated by ";" or, as
older exports and hand-made files have them, by spaces (categories) or "," (keywords).

Cells that a spreadsheet would run as a formula (starting with =, +, -, @, tab or CR) are
written with a leading apostrophe, the usual neutralization, and read back without it.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy import ColumnElement, String, Table, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session

from pipeline.readers.addresses import Address, AddressError, normalize_address
from pipeline.readers.feedback import ReaderData
from pipeline.readers.lifecycle import (
    Consent,
    SubscribeState,
    SubscriptionError,
    new_reader_values,
    subscribe,
)
from pipeline.readers.preferences import WEEKDAYS, PreferenceError, Preferences, validate
from pipeline.readers.suppressions import erased_key, suppress
from pipeline.store.models import Subscriber, Suppression, new_link_id
from pipeline.store.sql import insert_rows, is_postgresql
from pipeline.store.status import ConsentChannel, SubscriberStatus, SuppressionReason
from pipeline.timeutil import utcnow

CSV_FIELDS = (
    "email",
    "status",
    "cadence",
    "categories",
    "keywords",
    "papers_per_digest",
    "send_hour",
    "timezone",
    "weekly_day",
    "paused",
    "consent_at",
    "consent_channel",
)
# The reader's own data beyond the subscription (pipeline/readers/feedback.py ReaderData):
# exported with them; `import` reads the subscription columns and leaves these.
DATA_FIELDS = (
    "seeds",
    "follow_authors",
    "mute_authors",
    "exclude_keywords",
    "relevance_weight",
    "min_score",
    "skip_empty",
    "liked",
    "disliked",
)
EXPORT_CHUNK = 1000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SUBSCRIBERS: Table = Subscriber.__table__  # type: ignore[assignment]
_LEFT = {SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED}


CHUNK = 5000  # rows validated, looked up and inserted together


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    to_confirm: list[int] = field(default_factory=list)  # readers to mail a confirm link


def safe_cell(value: object) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def unsafe_cell(text: str) -> str:
    """`safe_cell` undone: the apostrophe it added before a formula character goes."""
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text


def _list(raw: str, separators: str) -> tuple[str, ...]:
    for sep in separators[1:]:
        raw = raw.replace(sep, separators[0])
    return tuple(part.strip() for part in raw.split(separators[0]) if part.strip())


def _preferences(row: Mapping[str, str], defaults: Preferences) -> Preferences:
    weekly = row.get("weekly_day", "")
    if weekly.lower() in WEEKDAYS:
        weekly = str(WEEKDAYS.index(weekly.lower()))
    paused = row.get("paused", "").lower()
    if paused not in ("", "true", "false", "1", "0", "yes", "no"):
        raise PreferenceError("paused: write true or false")
    return defaults.with_changes(
        categories=_list(row.get("categories", ""), " ,;") or defaults.categories,
        keywords=_list(row.get("keywords", ""), ",;") or defaults.keywords,
        cadence=row.get("cadence") or defaults.cadence,
        papers_per_digest=int(row.get("papers_per_digest") or defaults.papers_per_digest),
        send_hour=int(row.get("send_hour") or defaults.send_hour),
        timezone=row.get("timezone") or defaults.timezone,
        weekly_day=int(weekly or defaults.weekly_day),
        paused=paused in ("true", "1", "yes"),
    )


def _consent_of(row: Mapping[str, str]) -> tuple[datetime | None, ConsentChannel | None]:
    """The consent record an export carried (when and where the reader said yes)."""
    when, channel = row.get("consent_at", ""), row.get("consent_channel", "")
    try:
        at = datetime.fromisoformat(when) if when else None
    except ValueError:
        raise SubscriptionError(f"consent_at {when[:40]!r} is not an ISO 8601 time") from None
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    if channel and channel not in tuple(ConsentChannel):
        raise SubscriptionError(
            f"consent_channel {channel[:20]!r} is not one of web, api, cli, import"
        )
    return at, ConsentChannel(channel) if channel else None


def _status_of(row: Mapping[str, str]) -> SubscriberStatus | None:
    raw = row.get("status", "").lower()
    if not raw:
        return None
    try:
        return SubscriberStatus(raw)
    except ValueError:
        raise SubscriptionError(
            f"status {raw[:20]!r} is not one of {', '.join(s.value for s in SubscriberStatus)}"
        ) from None


def _record_leaving(
    session: Session,
    row: Mapping[str, str],
    status: SubscriberStatus,
    prefs: Preferences,
    now: datetime,
) -> SubscribeState:
    """A row saying the reader left: keep them (or add them) as left, never as active."""
    address = normalize_address(row.get("email", ""))
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email_key == address.key))
    state = SubscribeState.PENDING
    if subscriber is None:
        subscriber = Subscriber(email=address.email, email_key=address.key, status=status)
        subscriber.categories, subscriber.keywords = list(prefs.categories), list(prefs.keywords)
        session.add(subscriber)
        session.flush()
        state = SubscribeState.CREATED
    if status in (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED):
        suppress(
            session,
            address.key,
            SuppressionReason(status.value),
            "imported from a CSV export",
            actor="import",
            now=now,
        )
    elif subscriber.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING):
        subscriber.status = SubscriberStatus.UNSUBSCRIBED
        subscriber.unsubscribed_at = now
    return state


@dataclass(frozen=True, slots=True)
class _Row:
    """A row that passed validation, waiting for its chunk's lookups."""

    line: int
    cells: Mapping[str, str]
    address: Address
    prefs: Preferences  # validated
    status: SubscriberStatus | None
    consent_at: datetime | None
    channel: ConsentChannel | None


def _parse(line: int, cells: Mapping[str, str], defaults: Preferences, max_papers: int) -> _Row:
    """The row's values, validated as `subscribe` validates them (AddressError etc. if not)."""
    prefs = _preferences(cells, defaults)
    status = _status_of(cells)
    consent_at, channel = _consent_of(cells)
    if status in _LEFT:  # kept as left: the address must be valid, preferences only parse
        return _Row(
            line, cells, normalize_address(cells.get("email", "")), prefs, status, None, None
        )
    address = normalize_address(cells.get("email", ""))
    return _Row(line, cells, address, _validated(prefs, max_papers), status, consent_at, channel)


@functools.lru_cache(maxsize=4096)
def _validated(prefs: Preferences, max_papers: int) -> Preferences:
    """`validate`, once per distinct preferences: a list repeats a few combinations."""
    return validate(prefs, max_papers)


def _among(
    session: Session, column: InstrumentedAttribute[str], values: set[str]
) -> ColumnElement[bool]:
    """`column IN values`; on PostgreSQL as one array parameter (= ANY), which psycopg
    sends as is, where thousands of IN placeholders cost more to parse than the lookup."""
    if is_postgresql(session):
        return column == any_(bindparam("among", sorted(values), type_=ARRAY(String)))
    return column.in_(values)


class _Import:
    """One import's running state: the report, and the addresses it has already handled."""

    def __init__(
        self,
        session: Session,
        report: ImportReport,
        *,
        confirmed: bool,
        max_papers: int,
        now: datetime,
    ) -> None:
        self.session = session
        self.report = report
        self.confirmed = confirmed
        self.max_papers = max_papers
        self.now = now
        self.seen: set[str] = set()

    def vouched(self, row: _Row) -> bool:
        # a reader the export says never confirmed stays unconfirmed
        return self.confirmed and row.status != SubscriberStatus.PENDING

    def chunk(self, rows: list[_Row]) -> None:
        """Readers new to the store are inserted together; any other row (known address, a
        suppression, a repeat within the file, a reader who left) goes through `subscribe`
        one by one, as a single sign-up would."""
        keys = {r.address.key for r in rows}
        known = set(
            self.session.scalars(
                select(Subscriber.email_key).where(_among(self.session, Subscriber.email_key, keys))
            )
        )
        hashed = {erased_key(k): k for k in keys}
        blocked = set()
        for found in self.session.scalars(
            select(Suppression.email_key).where(
                _among(self.session, Suppression.email_key, keys | set(hashed))
            )
        ):
            blocked.add(hashed.get(found, found))
        fresh: list[_Row] = []
        for row in rows:
            key = row.address.key
            if row.status in _LEFT or key in known or key in blocked or key in self.seen:
                self.insert(fresh)
                fresh = []
                self.one(row)
            else:
                fresh.append(row)
            self.seen.add(key)
        self.insert(fresh)

    def insert(self, rows: list[_Row]) -> None:
        if not rows:
            return
        values = []
        for row in rows:
            value = new_reader_values(
                row.address,
                row.prefs,
                Consent(ConsentChannel.IMPORT),
                confirmed=self.vouched(row),
                now=self.now,
            )
            if row.consent_at:
                value["consent_at"] = row.consent_at  # the original record, not "today"
                value["consent_channel"] = row.channel or ConsentChannel.IMPORT
            value.update(link_id=new_link_id(), created_at=self.now, updated_at=self.now)
            values.append(value)
        written = dict(
            insert_rows(
                self.session,
                SUBSCRIBERS,
                values,
                conflict=["email_key"],
                returning=["email_key", "id"],
            ).rows
        )
        for row, value in zip(rows, values, strict=True):
            subscriber_id = written.get(row.address.key)
            if subscriber_id is None:  # the address subscribed meanwhile: as a sign-up would
                self.one(row)
                continue
            self.report.added += 1
            if value["status"] == SubscriberStatus.PENDING:
                self.report.to_confirm.append(subscriber_id)

    def one(self, row: _Row) -> None:
        try:
            with self.session.begin_nested():
                if row.status in _LEFT:
                    assert row.status is not None
                    state = _record_leaving(
                        self.session, row.cells, row.status, row.prefs, self.now
                    )
                    outcome = None
                else:
                    outcome = subscribe(
                        self.session,
                        row.address.email,
                        row.prefs,
                        Consent(ConsentChannel.IMPORT),
                        max_papers=self.max_papers,
                        confirmed=self.vouched(row),
                        now=self.now,
                    )
                    state = outcome.state
                    reader = outcome.subscriber
                    if reader is not None and state == SubscribeState.CREATED and row.consent_at:
                        reader.consent_at = row.consent_at
                        reader.consent_channel = row.channel or ConsentChannel.IMPORT
        except (AddressError, PreferenceError, SubscriptionError) as exc:
            self.report.errors.append((row.line, str(exc)))
            return
        if state == SubscribeState.CREATED:
            self.report.added += 1
        elif state == SubscribeState.SUPPRESSED:
            self.report.errors.append(
                (
                    row.line,
                    "address is suppressed (see `paperround suppressions list`); not imported",
                )
            )
        elif state == SubscribeState.ALREADY_ACTIVE:
            self.report.unchanged += 1
        else:
            self.report.updated += 1
        # Confirmations go to readers new or still pending; never to one who had left (an old
        # list re-imported must not mail people who unsubscribed: they come back themselves).
        if (
            outcome is not None
            and outcome.send_confirmation
            and outcome.subscriber is not None
            and state in (SubscribeState.CREATED, SubscribeState.PENDING)
        ):
            self.session.flush()
            self.report.to_confirm.append(outcome.subscriber.id)


def import_csv(
    session: Session,
    handle: TextIO,
    defaults: Preferences,
    *,
    max_papers: int,
    confirmed: bool,
    now: datetime | None = None,
    on_row: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import readers from CSV (a header row with at least `email`). Bad rows are reported by
    line number and skipped; good rows are kept. The caller commits, then mails the readers
    in `report.to_confirm` their confirmation. `on_row(n)` hears of every n rows read.

    Rows are validated one by one and written CHUNK at a time: readers new to the store (most
    rows of a list moving here) in one INSERT per chunk, so 100,000 rows take seconds."""
    now = now or utcnow()
    report = ImportReport()
    reader = csv.DictReader(handle)
    if not reader.fieldnames or "email" not in [f.strip().lower() for f in reader.fieldnames]:
        raise SubscriptionError("the CSV needs a header row with an 'email' column")
    work = _Import(session, report, confirmed=confirmed, max_papers=max_papers, now=now)
    pending: list[_Row] = []
    read = 0  # rows read since the last `on_row`
    for raw in reader:
        line = reader.line_num
        read += 1
        cells = {
            (k or "").strip().lower(): unsafe_cell((v or "").strip()) for k, v in raw.items() if k
        }
        try:
            pending.append(_parse(line, cells, defaults, max_papers))
        except (AddressError, PreferenceError, SubscriptionError) as exc:
            report.errors.append((line, str(exc)))
        except ValueError:
            report.errors.append(
                (line, "papers_per_digest, send_hour and weekly_day must be whole numbers")
            )
        if read >= CHUNK:
            work.chunk(pending)
            pending = []
            if on_row is not None:
                on_row(read)
            read = 0
    work.chunk(pending)
    if on_row is not None and read:
        on_row(read)
    report.errors.sort()
    return report


def export_rows(
    subscribers: Iterable[Subscriber],
    data_of: Callable[[Sequence[int]], Mapping[int, ReaderData]] | None = None,
) -> Iterator[str]:
    """CSV text, header first, that `import_csv` reads back; with `data_of`, each reader's
    interests and ratings too (DATA_FIELDS), read EXPORT_CHUNK readers at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_FIELDS + (DATA_FIELDS if data_of is not None else ()))
    yield buffer.getvalue()
    for chunk in _chunks(subscribers, EXPORT_CHUNK):
        data = data_of([s.id for s in chunk]) if data_of is not None else {}
        buffer.seek(0)
        buffer.truncate()
        for s in chunk:
            _write_reader(writer, s, data.get(s.id))
        yield buffer.getvalue()


def _chunks(items: Iterable[Subscriber], size: int) -> Iterator[list[Subscriber]]:
    chunk: list[Subscriber] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _write_reader(writer: Any, s: Subscriber, data: ReaderData | None) -> None:
    own: tuple[object, ...] = ()
    if data is not None:
        i = data.interests
        own = (
            ";".join(i.seeds),
            ";".join(i.follow_authors),
            ";".join(i.mute_authors),
            ";".join(i.exclude_keywords),
            _percent(i.relevance_weight),
            _percent(i.min_score),
            "true" if i.skip_empty else "false",
            ";".join(data.liked),
            ";".join(data.disliked),
        )
    writer.writerow(
        safe_cell(value)
        for value in (
            s.email,
            s.status,
            s.cadence,
            ";".join(s.categories),
            ";".join(s.keywords),
            s.papers_per_digest,
            s.send_hour,
            s.timezone,
            s.weekly_day,
            "true" if s.paused else "false",
            s.consent_at.isoformat() if s.consent_at else "",
            s.consent_channel or "",
            *own,
        )
    )
