"""Readers in and out as CSV: import for a list moving to Paperround, export for backups.

Every imported row goes through the same validation and consent rules as the web form: an
import may add readers and vouch for new or pending ones (`confirmed`), but it honors the
status column of its own export, so a reader who unsubscribed, bounced or complained is never
made active by an import, not even with `confirmed`. What `export_rows` writes, `import_csv`
reads back (preferences, status and the consent record included).

Cells that a spreadsheet would run as a formula (starting with =, +, -, @, tab or CR) are
written with a leading apostrophe, the usual neutralization, and read back without it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.readers.addresses import AddressError, normalize_address
from pipeline.readers.lifecycle import Consent, SubscribeState, SubscriptionError, subscribe
from pipeline.readers.preferences import WEEKDAYS, PreferenceError, Preferences
from pipeline.readers.suppressions import suppress
from pipeline.store.models import Subscriber
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
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_LEFT = {SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED}


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


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


def import_csv(
    session: Session,
    handle: TextIO,
    defaults: Preferences,
    *,
    max_papers: int,
    confirmed: bool,
    now: datetime | None = None,
) -> ImportReport:
    """Import readers from CSV (a header row with at least `email`). Bad rows are reported by
    line number and skipped; good rows are kept. The caller commits."""
    now = now or utcnow()
    report = ImportReport()
    reader = csv.DictReader(handle)
    if not reader.fieldnames or "email" not in [f.strip().lower() for f in reader.fieldnames]:
        raise SubscriptionError("the CSV needs a header row with an 'email' column")
    for row in reader:
        line = reader.line_num
        row = {
            (k or "").strip().lower(): unsafe_cell((v or "").strip()) for k, v in row.items() if k
        }
        try:
            prefs = _preferences(row, defaults)
            status = _status_of(row)
            consent_at, channel = _consent_of(row)
            with session.begin_nested():
                if status in _LEFT:
                    assert status is not None
                    state = _record_leaving(session, row, status, prefs, now)
                    subscriber = None
                else:
                    outcome = subscribe(
                        session,
                        row.get("email", ""),
                        prefs,
                        Consent(ConsentChannel.IMPORT),
                        max_papers=max_papers,
                        # a reader the export says never confirmed stays unconfirmed
                        confirmed=confirmed and status != SubscriberStatus.PENDING,
                        now=now,
                    )
                    state, subscriber = outcome.state, outcome.subscriber
                if subscriber is not None and state == SubscribeState.CREATED and consent_at:
                    subscriber.consent_at = consent_at  # the original record, not "today"
                    subscriber.consent_channel = channel or ConsentChannel.IMPORT
        except (AddressError, PreferenceError, SubscriptionError) as exc:
            report.errors.append((line, str(exc)))
            continue
        except ValueError:
            report.errors.append(
                (line, "papers_per_digest, send_hour and weekly_day must be whole numbers")
            )
            continue
        if state == SubscribeState.CREATED:
            report.added += 1
        elif state == SubscribeState.SUPPRESSED:
            report.errors.append(
                (line, "address is suppressed (see `paperround suppressions list`); not imported")
            )
        elif state == SubscribeState.ALREADY_ACTIVE:
            report.unchanged += 1
        else:
            report.updated += 1
    return report


def export_rows(subscribers: Iterable[Subscriber]) -> Iterator[str]:
    """CSV text, header first, that `import_csv` reads back."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    yield buffer.getvalue()
    for s in subscribers:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(
            safe_cell(value)
            for value in (
                s.email,
                s.status,
                s.cadence,
                " ".join(s.categories),
                ",".join(s.keywords),
                s.papers_per_digest,
                s.send_hour,
                s.timezone,
                s.weekly_day,
                "true" if s.paused else "false",
                s.consent_at.isoformat() if s.consent_at else "",
                s.consent_channel or "",
            )
        )
        yield buffer.getvalue()
