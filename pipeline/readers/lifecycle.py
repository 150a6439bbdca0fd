"""The subscriber life cycle, the consent record and suppressions. No web or CLI code here.

    pending --confirm--> active --unsubscribe--> unsubscribed --subscribe--> pending (again)
    any --hard bounce--> bounced, any --complaint--> complained   (both suppressed)

Consent is the reader's: an admin (`--confirmed`, an import) may vouch for a new or pending
reader, but a reader who left, bounced or complained becomes active again only by confirming
themselves (a new confirmation mail), and never while their address is suppressed.

Subscribing never reveals whether an address is known: the caller gets the same outcome shape
and decides what to show; only whether a mail should go out differs. An active reader asking
again through their own door (web, API) gets a "your links" mail (preferences, unsubscribe)
at most once an hour, since they cannot otherwise reach their preferences without a digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pipeline.readers.addresses import Address, AddressError, normalize_address
from pipeline.readers.preferences import Preferences, validate
from pipeline.readers.suppressions import find_suppression, is_suppressed, lift, suppress
from pipeline.store.models import Subscriber
from pipeline.store.status import (
    SUPPRESSED_READER,
    Cadence,
    ConsentChannel,
    SubscriberStatus,
    SuppressionReason,
)
from pipeline.timeutil import utcnow

CONFIRMATION_INTERVAL = timedelta(minutes=10)
LINKS_INTERVAL = timedelta(hours=1)  # "your links" mails to an active reader
SELF_SERVICE = (ConsentChannel.WEB, ConsentChannel.API)  # the reader's own doors


class SubscriptionError(ValueError):
    """A request about a subscription was refused; the message says why."""


@dataclass(frozen=True)
class Consent:
    """How the reader asked to subscribe: the record anti-spam rules ask us to keep."""

    channel: ConsentChannel
    ip: str | None = None
    user_agent: str | None = None


class SubscribeState(StrEnum):
    """What a subscribe request found; the web answers every one of them alike."""

    CREATED = "created"  # a new reader, pending confirmation
    PENDING = "pending"  # known, still pending: preferences and consent record refreshed
    ALREADY_ACTIVE = "already_active"  # nothing changes without the reader's signed link
    RESUBSCRIBING = "resubscribing"  # had unsubscribed: pending again, old links revoked
    SUPPRESSED = "suppressed"  # bounced, complained or suppressed by an admin: never mailed


@dataclass
class SubscribeOutcome:
    subscriber: Subscriber | None
    # True: mail the reader now (the rate limit is already applied): a pending reader their
    # confirm link, an active one their links (pipeline/readers/confirmation.py picks which)
    send_confirmation: bool
    state: SubscribeState

    @property
    def sends_links(self) -> bool:
        """Whether the mail due is the active reader's "your links" mail."""
        return self.send_confirmation and self.state == SubscribeState.ALREADY_ACTIVE


def _prefs_values(prefs: Preferences) -> dict[str, object]:
    return {
        "categories": list(prefs.categories),
        "keywords": list(prefs.keywords),
        "cadence": Cadence(prefs.cadence),
        "papers_per_digest": prefs.papers_per_digest,
        "send_hour": prefs.send_hour,
        "timezone": prefs.timezone,
        "weekly_day": prefs.weekly_day,
        "paused": prefs.paused,
    }


def _consent_values(consent: Consent, now: datetime) -> dict[str, object]:
    return {
        "consent_at": now,
        "consent_channel": consent.channel,
        "consent_ip": (consent.ip or "")[:64] or None,
        "consent_user_agent": (consent.user_agent or "")[:500] or None,
    }


def _prefs_to_row(subscriber: Subscriber, prefs: Preferences) -> None:
    for name, value in _prefs_values(prefs).items():
        setattr(subscriber, name, value)


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


def _may_send_confirmation(
    subscriber: Subscriber, now: datetime, interval: timedelta = CONFIRMATION_INTERVAL
) -> bool:
    """One opt-in (or links) mail per address per interval: `confirmation_sent_at` is when
    the last one went out, whichever it was."""
    last = subscriber.confirmation_sent_at
    return last is None or now - last >= interval


def new_reader_values(
    address: Address, prefs: Preferences, consent: Consent, *, confirmed: bool, now: datetime
) -> dict[str, object]:
    """The column values of a reader for an address the store does not know and nobody
    suppressed, by the rules `subscribe` applies (an import inserts many at once): pending
    and due a confirmation mail, or active when an admin vouched. `prefs` are validated."""
    return {
        "email": address.email,
        "email_key": address.key,
        "status": SubscriberStatus.ACTIVE if confirmed else SubscriberStatus.PENDING,
        **_prefs_values(prefs),
        "token_version": 1,
        **_consent_values(consent, now),
        "confirmed_at": now if confirmed else None,
        "unsubscribed_at": None,
        "confirmation_sent_at": None if confirmed else now,
    }


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
    """Ask for a subscription. `confirmed=True` (admin CLI/import only) skips double opt-in for
    a new or pending reader; a reader who left must still confirm themselves.

    Raises AddressError / PreferenceError for bad input; the caller commits.
    """
    now = now or utcnow()
    if consent.channel not in tuple(ConsentChannel):
        raise SubscriptionError(f"unknown consent channel {consent.channel!r}")
    address = normalize_address(email)
    prefs = validate(prefs, max_papers)
    blocked = find_suppression(session, address.key)
    # An erasure blocks the admin's doors (an import, `subscribers add`); the reader's own
    # double opt-in may bring them back, and then the erasure marker has served its purpose.
    if blocked is not None and not (
        blocked.reason == SuppressionReason.ERASED and consent.channel in SELF_SERVICE
    ):
        return SubscribeOutcome(None, False, SubscribeState.SUPPRESSED)
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email_key == address.key))
    if subscriber is None:
        subscriber = Subscriber(
            **new_reader_values(address, prefs, consent, confirmed=confirmed, now=now)
        )
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
            return SubscribeOutcome(subscriber, not confirmed, SubscribeState.CREATED)
    state = SubscribeState.PENDING
    if subscriber.status == SubscriberStatus.ACTIVE:
        # No preference changes from an unauthenticated form: that needs the signed link.
        # The reader's own door gets their links by mail, now and then, instead of silence.
        links = consent.channel in SELF_SERVICE and _may_send_confirmation(
            subscriber, now, LINKS_INTERVAL
        )
        if links:
            subscriber.confirmation_sent_at = now
        return SubscribeOutcome(subscriber, links, SubscribeState.ALREADY_ACTIVE)
    left = subscriber.status in (SubscriberStatus.UNSUBSCRIBED, *SUPPRESSED_READER)
    if left:
        # Bounced or complained with the suppression lifted, or unsubscribed: pending again,
        # and only the reader's own confirmation makes them active.
        state = SubscribeState.RESUBSCRIBING
        subscriber.status = SubscriberStatus.PENDING
        subscriber.token_version += 1  # links from before they left stop working
    _prefs_to_row(subscriber, prefs)
    _record_consent(subscriber, consent, now)
    if confirmed and not left:
        _activate(subscriber, now)
        return SubscribeOutcome(subscriber, False, state)
    send = _may_send_confirmation(subscriber, now)
    if send:
        subscriber.confirmation_sent_at = now
    return SubscribeOutcome(subscriber, send, state)


def _record_consent(subscriber: Subscriber, consent: Consent, now: datetime) -> None:
    for name, value in _consent_values(consent, now).items():
        setattr(subscriber, name, value)


def _activate(subscriber: Subscriber, now: datetime) -> None:
    subscriber.status = SubscriberStatus.ACTIVE
    subscriber.confirmed_at = now
    subscriber.unsubscribed_at = None


def confirmable(session: Session, link_id: str, version: int) -> Subscriber:
    """The reader a confirm link names, if confirming would be accepted; changes nothing, so
    a page can ask before the reader presses the button (mail scanners open links too).

    Raises the SubscriptionError `confirm` would raise.
    """
    subscriber = _from_link(session, link_id, version)
    if subscriber.status in SUPPRESSED_READER:
        raise SubscriptionError("This address can no longer receive mail from us.")
    if subscriber.status == SubscriberStatus.UNSUBSCRIBED:
        raise SubscriptionError("This link was replaced: please subscribe again.")
    if subscriber.status == SubscriberStatus.PENDING:
        found = find_suppression(session, subscriber.email_key)
        # Erased once, back by their own double opt-in: the erasure marker does not block them.
        if found is not None and found.reason != SuppressionReason.ERASED:
            raise SubscriptionError("This address can no longer receive mail from us.")
    return subscriber


def confirm(
    session: Session, link_id: str, version: int, now: datetime | None = None
) -> Subscriber:
    """Activate a pending reader from a confirm link; replaying the link is harmless."""
    subscriber = confirmable(session, link_id, version)
    if subscriber.status == SubscriberStatus.PENDING:
        if is_suppressed(session, subscriber.email_key):
            # The erasure marker (confirmable refused any other reason) has done its job.
            lift(session, subscriber.email_key, actor="the reader's own confirmation")
        _activate(subscriber, now or utcnow())
    return subscriber


def unsubscribe(
    session: Session, link_id: str, version: int, now: datetime | None = None
) -> Subscriber:
    """Unsubscribe at once (one click, RFC 8058); doing it twice is harmless."""
    subscriber = _from_link(session, link_id, version)
    if subscriber.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING):
        subscriber.status = SubscriberStatus.UNSUBSCRIBED
        subscriber.unsubscribed_at = now or utcnow()
    return subscriber


def update_preferences(
    session: Session, link_id: str, version: int, prefs: Preferences, *, max_papers: int
) -> Subscriber:
    subscriber = _from_link(session, link_id, version)
    _prefs_to_row(subscriber, validate(prefs, max_papers))
    return subscriber


def reader_from_link(session: Session, link_id: str, version: int) -> Subscriber:
    """The reader a signed link names, if the link was not revoked."""
    return _from_link(session, link_id, version)


def _from_link(session: Session, link_id: str, version: int) -> Subscriber:
    subscriber = session.scalar(select(Subscriber).where(Subscriber.link_id == link_id))
    if subscriber is None or subscriber.token_version != version:
        raise SubscriptionError("This link is no longer valid.")
    return subscriber


def revoke_links(session: Session, email: str) -> Subscriber:
    """Invalidate every link sent so far to this reader."""
    subscriber = _require(session, email)
    subscriber.token_version += 1
    return subscriber


def remove(session: Session, email: str, *, actor: str = "cli") -> None:
    """Delete a reader and their ledger rows (erasure on request). A hash of the address stays
    behind as a suppression, so no import or admin add brings them back unless an admin lifts
    it; the reader can still come back on their own, through the double opt-in."""
    subscriber = _require(session, email)
    suppress(session, subscriber.email_key, SuppressionReason.ERASED, actor=actor)
    session.delete(subscriber)


def _require(session: Session, email: str) -> Subscriber:
    subscriber = find(session, email)
    if subscriber is None:
        raise SubscriptionError(f"no subscriber {email!r}; see `paperround subscribers list`")
    return subscriber


def confirm_again(session: Session, email: str, now: datetime | None = None) -> Subscriber:
    """A pending reader whose confirmation an admin sends again (they lost the mail, or it
    expired). Only a pending reader: it never touches one who is active or left, so it
    cannot be used to mail someone who unsubscribed. The caller sends after committing."""
    subscriber = _require(session, email)
    if subscriber.status != SubscriberStatus.PENDING:
        why = {
            SubscriberStatus.ACTIVE: "is already active: nothing to confirm",
            SubscriberStatus.UNSUBSCRIBED: "unsubscribed: only they can subscribe again",
        }.get(subscriber.status, f"is {subscriber.status}: we do not mail them")
        raise SubscriptionError(f"{subscriber.email} {why}")
    found = find_suppression(session, subscriber.email_key)
    if found is not None and found.reason != SuppressionReason.ERASED:
        raise SubscriptionError(
            f"{subscriber.email} is suppressed ({found.reason}); see `paperround suppressions list`"
        )
    subscriber.confirmation_sent_at = now or utcnow()
    return subscriber


def update_subscriber(
    session: Session, email: str, changes: dict[str, object], *, max_papers: int
) -> Subscriber:
    """An admin's change to a reader's preferences (and pause), validated like the reader's
    own page. Status and consent are not preferences: nothing here makes anyone active."""
    subscriber = _require(session, email)
    prefs = preferences_of(subscriber).with_changes(**changes)
    _prefs_to_row(subscriber, validate(prefs, max_papers))
    return subscriber


PAUSED = "paused"  # `subscribers list --status paused`: active readers who paused their digest


def list_subscribers(
    session: Session, status: SubscriberStatus | str | None = None
) -> list[Subscriber]:
    """Readers by address; `status` may also be PAUSED (active, digest paused)."""
    query = select(Subscriber).order_by(Subscriber.email_key)
    if status == PAUSED:
        query = query.where(Subscriber.status == SubscriberStatus.ACTIVE, Subscriber.paused)
    elif status:
        query = query.where(Subscriber.status == SubscriberStatus(status))
    return list(session.scalars(query))
