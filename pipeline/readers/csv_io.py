"""Readers in and out as CSV: import for a list moving to Paperround, export for backups.

Every imported row goes through `subscribe`, so an import obeys the same validation and
consent rules as the web form. What `export_rows` writes, `import_csv` reads back.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

from sqlalchemy.orm import Session

from pipeline.readers.addresses import AddressError
from pipeline.readers.lifecycle import Consent, SubscribeState, SubscriptionError, subscribe
from pipeline.readers.preferences import PreferenceError, Preferences
from pipeline.store.models import Subscriber
from pipeline.store.status import ConsentChannel

CSV_FIELDS = (
    "email",
    "status",
    "cadence",
    "categories",
    "keywords",
    "papers_per_digest",
    "send_hour",
    "timezone",
    "consent_at",
    "consent_channel",
)


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


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
    report = ImportReport()
    reader = csv.DictReader(handle)
    if not reader.fieldnames or "email" not in [f.strip().lower() for f in reader.fieldnames]:
        raise SubscriptionError("the CSV needs a header row with an 'email' column")
    for row in reader:
        line = reader.line_num
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k}
        try:
            prefs = defaults.with_changes(
                categories=tuple(row.get("categories", "").split()) or defaults.categories,
                keywords=tuple(row.get("keywords", "").split(","))
                if row.get("keywords")
                else defaults.keywords,
                cadence=row.get("cadence") or defaults.cadence,
                papers_per_digest=int(row.get("papers_per_digest") or defaults.papers_per_digest),
                send_hour=int(row.get("send_hour") or defaults.send_hour),
                timezone=row.get("timezone") or defaults.timezone,
            )
            with session.begin_nested():
                outcome = subscribe(
                    session,
                    row.get("email", ""),
                    prefs,
                    Consent(ConsentChannel.IMPORT),
                    max_papers=max_papers,
                    confirmed=confirmed,
                    now=now,
                )
        except (AddressError, PreferenceError, SubscriptionError) as exc:
            report.errors.append((line, str(exc)))
            continue
        except ValueError:
            report.errors.append((line, "papers_per_digest and send_hour must be whole numbers"))
            continue
        if outcome.state == SubscribeState.CREATED:
            report.added += 1
        elif outcome.state == SubscribeState.SUPPRESSED:
            report.errors.append((line, "address is suppressed (bounced or complained)"))
        elif outcome.state == SubscribeState.ALREADY_ACTIVE:
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
            [
                s.email,
                s.status,
                s.cadence,
                " ".join(s.categories),
                ",".join(s.keywords),
                s.papers_per_digest,
                s.send_hour,
                s.timezone,
                s.consent_at.isoformat() if s.consent_at else "",
                s.consent_channel or "",
            ]
        )
        yield buffer.getvalue()
