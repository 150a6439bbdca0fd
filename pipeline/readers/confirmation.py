"""The double opt-in mail: composed and sent through the digest's own render + MIME + SMTP path.

pipeline.render.render_confirmation (MJML compiled once per site, text part) ->
pipeline.mail.MessageTemplate (From/To/Subject/Date/Message-ID, List-Id, DKIM when set) ->
the configured SMTP transport. Whether a mail may go out at all (one per address per 10
minutes) is decided earlier, by pipeline.subscriptions.subscribe.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from pipeline.digest.compose import load_dkim
from pipeline.mail.message import MessageTemplate, new_message_id
from pipeline.mail.transport import SendOutcome
from pipeline.readers.addresses import smtp_address
from pipeline.readers.links import LinkMaker
from pipeline.render.context import one_line
from pipeline.render.edition import render_confirmation
from pipeline.settings import Settings
from pipeline.store.db import write_transaction
from pipeline.store.models import Subscriber
from pipeline.wiring import links as make_links
from pipeline.wiring import transport_factory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConfirmationMail:
    to_addr: str
    message: bytes
    message_id: str


def compose_confirmation(
    settings: Settings, links: LinkMaker, subscriber_id: int, version: int, email: str
) -> ConfirmationMail:
    """One reader's confirmation message (CRLF, 7-bit), ready for SMTP DATA."""
    to_addr = smtp_address(email)
    html, text = render_confirmation(
        links.confirm(subscriber_id, version),
        settings.site_name,
        settings.base_url,
        settings.postal_address,
        email,
    )
    template = MessageTemplate.build(
        html=html,
        text=text,
        subject=f"Confirm your {one_line(settings.site_name)} subscription",
        from_addr=settings.sender_address,
        from_name=settings.sender_name,
        list_id=f"{settings.site_name} digest <digest.{settings.sender_domain}>",
        feedback_id="confirm:paperround",
        sender_domain=settings.sender_domain,
    )
    message_id = new_message_id(settings.sender_domain)
    # The unsubscribe link of a pending reader means "this was not me": it stops any further
    # confirmation mail to the address (RFC 2369 List-Unsubscribe is harmless here).
    message = template.render_for(
        to_addr,
        {},
        unsubscribe_url=links.unsubscribe(subscriber_id, version),
        unsubscribe_mailto="",
        message_id=message_id,
    )
    dkim = load_dkim(settings)
    if dkim is not None:
        message = dkim.sign(message)
    return ConfirmationMail(to_addr=to_addr, message=message, message_id=message_id)


def send_confirmation(
    factory: sessionmaker[Session], settings: Settings, subscriber_id: int
) -> SendOutcome:
    """Mail the confirm link to a pending reader (after the subscribe transaction committed).

    When nothing was delivered ("retry"/"failed"), the 10-minute throttle is released so the
    reader can ask again at once; "unknown" keeps it (the mail may have arrived).
    """
    with factory() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None or subscriber.status != "pending":
            return SendOutcome("failed", None, "reader is not pending confirmation")
        email, version = subscriber.email, subscriber.token_version
    try:
        mail = compose_confirmation(settings, make_links(settings), subscriber_id, version, email)
    except ValueError as exc:
        log.warning("confirmation for reader %s not sent: %s", subscriber_id, exc)
        return SendOutcome("failed", None, str(exc))
    transport = transport_factory(settings)()
    try:
        outcome = transport.send(settings.sender_address, mail.to_addr, mail.message)
    finally:
        transport.close()
    if outcome.status in ("retry", "failed"):
        log.warning("confirmation for reader %s not sent: %s", subscriber_id, outcome.detail)
        with write_transaction(factory) as session:
            row = session.get(Subscriber, subscriber_id)
            if row is not None:
                row.confirmation_sent_at = None
    return outcome
