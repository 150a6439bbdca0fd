"""The double opt-in mail: composed and sent through the digest's own render + MIME + SMTP path.

pipeline/render/confirmation.py (MJML compiled once per site, text part) ->
pipeline/mail/message.py MessageTemplate (From/To/Subject/Date/Message-ID, List-Id, the confirm
link and address filled as placeholders, DKIM when set) -> the configured transport. Whether a
mail may go out at all (one per address per 10 minutes) is decided earlier, by
pipeline/readers/lifecycle.py `subscribe`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from pipeline.mail.dkim import DkimSigner
from pipeline.mail.message import MessageTemplate, Sender, new_message_id
from pipeline.mail.transport import SendOutcome, SendStatus, Transport
from pipeline.readers.addresses import smtp_address
from pipeline.readers.links import LinkMaker
from pipeline.render.confirmation import confirmation_body, confirmation_subject
from pipeline.render.fields import safe_url
from pipeline.render.model import Site
from pipeline.render.placeholders import ConfirmationFields
from pipeline.store.db import write_transaction
from pipeline.store.models import Subscriber
from pipeline.store.status import SubscriberStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConfirmationMail:
    to_addr: str
    message: bytes
    message_id: str


class Confirmations:
    """Makes and sends confirmation mails; handed its collaborators by pipeline/wiring.py."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        site: Site,
        sender: Sender,
        links: LinkMaker,
        transports: Callable[[], Transport],
        dkim: DkimSigner | None = None,
    ) -> None:
        self.factory = factory
        self.site = site
        self.sender = sender
        self.links = links
        self.transports = transports
        self.dkim = dkim

    def template(self) -> MessageTemplate:
        html, text = confirmation_body(self.site.name, self.site.base_url, self.site.postal_address)
        return MessageTemplate.build(
            html=html,
            text=text,
            subject=confirmation_subject(self.site.name),
            from_addr=self.sender.address,
            from_name=self.sender.name,
            list_id=self.sender.list_id,
            feedback_id="confirm:paperround",
            sender_domain=self.sender.domain,
            bulk=False,
        )

    def compose(self, link_id: str, version: int, email: str) -> ConfirmationMail:
        """One reader's confirmation message (CRLF, 7-bit), ready for SMTP DATA."""
        to_addr = smtp_address(email)
        confirm_url = self.links.confirm(link_id, version)
        if safe_url(confirm_url) != confirm_url:
            raise ValueError(f"confirmation URL is not a plain http(s) URL: {confirm_url[:100]!r}")
        message_id = new_message_id(self.sender.domain)
        # The unsubscribe link of a pending reader means "this was not me": it stops any further
        # confirmation mail to the address (RFC 2369 List-Unsubscribe is harmless here).
        message = self.template().render_for(
            to_addr,
            ConfirmationFields(confirm_url=confirm_url, email=email).values(),
            unsubscribe_url=self.links.unsubscribe(link_id, version),
            unsubscribe_mailto="",
            message_id=message_id,
        )
        if self.dkim is not None:
            message = self.dkim.sign(message)
        return ConfirmationMail(to_addr=to_addr, message=message, message_id=message_id)

    def send(self, subscriber_id: int) -> SendOutcome:
        """Mail the confirm link to a pending reader (after the subscribe transaction committed).

        When nothing was delivered ("retry"/"failed"), the 10-minute throttle is released so the
        reader can ask again at once; "unknown" keeps it (the mail may have arrived).
        """
        with self.factory() as session:
            subscriber = session.get(Subscriber, subscriber_id)
            if subscriber is None or subscriber.status != SubscriberStatus.PENDING:
                return SendOutcome(SendStatus.FAILED, None, "reader is not pending confirmation")
            email, version, link_id = subscriber.email, subscriber.token_version, subscriber.link_id
        try:
            mail = self.compose(link_id, version, email)
        except ValueError as exc:
            log.warning("confirmation for reader %s not sent: %s", subscriber_id, exc)
            return SendOutcome(SendStatus.FAILED, None, str(exc))
        transport = self.transports()
        try:
            outcome = transport.send(self.sender.address, mail.to_addr, mail.message)
        finally:
            transport.close()
        if outcome.status in (SendStatus.RETRY, SendStatus.FAILED):
            log.warning("confirmation for reader %s not sent: %s", subscriber_id, outcome.detail)
            with write_transaction(self.factory) as session:
                row = session.get(Subscriber, subscriber_id)
                if row is not None:
                    row.confirmation_sent_at = None
        return outcome
