"""The subscriber life cycle, the consent record and suppressions. No web or CLI code here.

    pending --confirm--> active --unsubscribe--> unsubscribed --subscribe--> pending (again)
    any --hard bounce--> bounced, any --complaint--> complained   (both suppressed for good)

Subscribing never reveals whether an address is known: the caller gets the same outcome shape
and decides what to show; only whether a confirmation mail should go out differs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pipeline.readers.addresses import AddressError, normalize_address
from pipeline.readers.preferences import PreferenceError, Preferences, validate
from pipeline.store.models import Subscriber, Suppression
from pipeline.timeutil import utcnow

CONFIRMATION_INTERVAL = timedelta(minutes=10)
SUPPRESSED = ("bounced", "complained")
CHANNELS = ("web", "api", "cli", "import")


class SubscriptionError(ValueError):
    """A request about a subscription was refused; the message says why."""


@dataclass(frozen=True)
class Consent:
    """How the reader asked to subscribe: the record anti-spam rules ask us to keep."""

    channel: str
    ip: str | None = None
    user_agent: str | None = None


@dataclass
class SubscribeOutcome:
    subscriber: Subscriber | None
    send_confirmation: bool  # True: mail a confirmation link now (rate limit already applied)
    state: str  # created | pending | already_active | resubscribing | suppressed


def _prefs_to_row(subscriber: Subscriber, prefs: Preferences) -> None:
    subscriber.categories = list(prefs.categories)
    subscriber.keywords = list(prefs.keywords)
    subscriber.cadence = prefs.cadence
    subscriber.papers_per_digest = prefs.papers_per_digest
    subscriber.send_hour = prefs.send_hour
    subscriber.timezone = prefs.timezone
    subscriber.weekly_day = prefs.weekly_day
    subscriber.paused = prefs.paused


def preferences_of(subscriber: Subscriber) -> Preferences:
    return Preferences(
        categories=tuple(subscriber.categories),
        keywords=tuple(subscriber.keywords),
        cadence=subscriber.cadence,
        papers_per_digest=subscriber.papers_per_digest,
        send_hour=subscriber.send_hour,
        timezone=subscriber.timezone,
        weekly_day=subscriber.weekly_day,
        paused=subscriber.paused,
    )


def find(session: Session, email: str) -> Subscriber | None:
    try:
        key = normalize_address(email).key
    except AddressError:
        return None
    return session.scalar(select(Subscriber).where(Subscriber.email_key == key))


def is_suppressed(session: Session, email_key: str) -> bool:
    return (
        session.scalar(select(Suppression.id).where(Suppression.email_key == email_key)) is not None
    )


def _may_send_confirmation(subscriber: Subscriber, now: datetime) -> bool:
    last = subscriber.confirmation_sent_at
    return last is None or now - last >= CONFIRMATION_INTERVAL


def subscribe(
    session: Session,
    email: str,
    prefs: Preferences,
    consent: Consent,
    *,
    max_papers: int,
    confirmed: bool = False,
    now: datetime | None = None,
) -> SubscribeOutcome:
    """Ask for a subscription. `confirmed=True` (admin CLI/import only) skips double opt-in.

    Raises AddressError / PreferenceError for bad input; the caller commits.
    """
    now = now or utcnow()
    if consent.channel not in CHANNELS:
        raise SubscriptionError(f"unknown consent channel {consent.channel!r}")
    address = normalize_address(email)
    prefs = validate(prefs, max_papers)
    if is_suppressed(session, address.key):
        return SubscribeOutcome(None, False, "suppressed")
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email_key == address.key))
    state = "pending"
    if subscriber is None:
        subscriber = Subscriber(email=address.email, email_key=address.key, status="pending")
        _prefs_to_row(subscriber, prefs)
        session.add(subscriber)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:  # the same address subscribed concurrently
            session.expunge(subscriber)
            subscriber = session.scalars(
                select(Subscriber).where(Subscriber.email_key == address.key)
            ).one()
        else:
            state = "created"
    if subscriber.status == "active" and state != "created":
        # No preference changes from an unauthenticated form: that needs the signed link.
        return SubscribeOutcome(subscriber, False, "already_active")
    if subscriber.status in SUPPRESSED:
        return SubscribeOutcome(subscriber, False, "suppressed")
    if subscriber.status == "unsubscribed":
        state = "resubscribing"
        subscriber.status = "pending"
        subscriber.token_version += 1  # links from before the unsubscribe stop working
    if state != "created":
        _prefs_to_row(subscriber, prefs)
    _record_consent(subscriber, consent, now)
    if confirmed:
        _activate(subscriber, now)
        return SubscribeOutcome(subscriber, False, state)
    send = _may_send_confirmation(subscriber, now)
    if send:
        subscriber.confirmation_sent_at = now
    return SubscribeOutcome(subscriber, send, state)


def _record_consent(subscriber: Subscriber, consent: Consent, now: datetime) -> None:
    subscriber.consent_at = now
    subscriber.consent_channel = consent.channel
    subscriber.consent_ip = (consent.ip or "")[:64] or None
    subscriber.consent_user_agent = (consent.user_agent or "")[:500] or None


def _activate(subscriber: Subscriber, now: datetime) -> None:
    subscriber.status = "active"
    subscriber.confirmed_at = now
    subscriber.unsubscribed_at = None


def confirm(
    session: Session, subscriber_id: int, version: int, now: datetime | None = None
) -> Subscriber:
    """Activate a pending reader from a confirm link; replaying the link is harmless."""
    subscriber = _from_link(session, subscriber_id, version)
    if subscriber.status in SUPPRESSED:
        raise SubscriptionError("This address can no longer receive mail from us.")
    if subscriber.status == "unsubscribed":
        raise SubscriptionError("This link was replaced: please subscribe again.")
    if subscriber.status == "pending":
        _activate(subscriber, now or utcnow())
    return subscriber


def unsubscribe(
    session: Session, subscriber_id: int, version: int, now: datetime | None = None
) -> Subscriber:
    """Unsubscribe at once (one click, RFC 8058); doing it twice is harmless."""
    subscriber = _from_link(session, subscriber_id, version)
    if subscriber.status in ("active", "pending"):
        subscriber.status = "unsubscribed"
        subscriber.unsubscribed_at = now or utcnow()
    return subscriber


def update_preferences(
    session: Session, subscriber_id: int, version: int, prefs: Preferences, *, max_papers: int
) -> Subscriber:
    subscriber = _from_link(session, subscriber_id, version)
    _prefs_to_row(subscriber, validate(prefs, max_papers))
    return subscriber


def reader_from_link(session: Session, subscriber_id: int, version: int) -> Subscriber:
    """The reader a signed link names, if the link was not revoked."""
    return _from_link(session, subscriber_id, version)


def _from_link(session: Session, subscriber_id: int, version: int) -> Subscriber:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.token_version != version:
        raise SubscriptionError("This link is no longer valid.")
    return subscriber


def revoke_links(session: Session, email: str) -> Subscriber:
    """Invalidate every link sent so far to this reader."""
    subscriber = _require(session, email)
    subscriber.token_version += 1
    return subscriber


def suppress(session: Session, email_key: str, reason: str, detail: str | None = None) -> None:
    """Never mail this address again (hard bounce, complaint, admin). Idempotent."""
    if not is_suppressed(session, email_key):
        session.add(Suppression(email_key=email_key, reason=reason, detail=(detail or "")[:2000]))
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email_key == email_key))
    if subscriber is not None and reason in SUPPRESSED:
        subscriber.status = reason


def remove(session: Session, email: str) -> None:
    """Delete a reader and their ledger rows (erasure on request)."""
    session.delete(_require(session, email))


def _require(session: Session, email: str) -> Subscriber:
    subscriber = find(session, email)
    if subscriber is None:
        raise SubscriptionError(f"no subscriber {email!r}; see `paperround subscribers list`")
    return subscriber


def list_subscribers(session: Session, status: str | None = None) -> list[Subscriber]:
    query = select(Subscriber).order_by(Subscriber.email_key)
    if status:
        query = query.where(Subscriber.status == status)
    return list(session.scalars(query))


# --- CSV import / export -------------------------------------------------------------------

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
                    Consent("import"),
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
        if outcome.state == "created":
            report.added += 1
        elif outcome.state == "suppressed":
            report.errors.append((line, "address is suppressed (bounced or complained)"))
        elif outcome.state == "already_active":
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
