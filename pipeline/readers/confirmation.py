"""The reader's own mails: the double opt-in, and "your links" for an active reader who asked
to subscribe again. Composed and sent through the digest's own render + MIME + SMTP path.

pipeline/render (MJML compiled once per site, text part) -> pipeline/mail/message.py
MessageTemplate (From/To/Subject/Date/Message-ID, List-Id, the links and address filled as
placeholders, DKIM when set) -> the configured transport. Whether a mail may go out at all
(one per address per 10 minutes, links once an hour) is decided earlier, by
pipeline/readers/lifecycle.py `subscribe`; which of the two goes out, by the reader's status.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from pipeline.mail.dkim import DkimSigner
from pipeline.mail.message import MessageTemplate, Sender, new_message_id
from pipeline.mail.transport import SendOutcome, SendStatus, Transport
from pipeline.readers.addresses import smtp_address
from pipeline.readers.links import LinkMaker
from pipeline.render import engine
from pipeline.render.confirmation import confirmation_body, confirmation_subject
from pipeline.render.context import site_context
from pipeline.render.fields import safe_url
from pipeline.render.model import Site, check_site
from pipeline.render.placeholders import (
    PREFERENCES_URL,
    RECIPIENT_EMAIL,
    UNSUBSCRIBE_URL,
    ConfirmationFields,
)
from pipeline.store.db import write_transaction
from pipeline.store.models import Subscriber
from pipeline.store.status import SubscriberStatus
from pipeline.text import one_line

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConfirmationMail:
    to_addr: str
    message: bytes
    message_id: str


@functools.lru_cache(maxsize=8)
def links_body(site_name: str, base_url: str, postal_address: str) -> tuple[str, str]:
    """(html, text) of the "your links" mail, placeholders left in; compiled once per site."""
    check_site(site_name, base_url, postal_address)
    context = site_context(site_name, base_url, postal_address)
    context["title"] = f"Your {context['site_name']} links"
    context["preview"] = "You already get the digest: your preferences and unsubscribe links."
    return (
        engine.render_html("links.mjml.j2", context),
        engine.render_text("links.txt.j2", context),
    )


class Confirmations:
    """Makes and sends the reader's own mails; handed its collaborators by pipeline/wiring.py."""

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

    def _build(self, body: tuple[str, str], subject: str, feedback: str) -> MessageTemplate:
        html, text = body
        return MessageTemplate.build(
            html=html,
            text=text,
            subject=subject,
            from_addr=self.sender.address,
            from_name=self.sender.name,
            list_id=self.sender.list_id,
            feedback_id=f"{feedback}:paperround",
            sender_domain=self.sender.domain,
            bulk=False,
        )

    def template(self) -> MessageTemplate:
        site = self.site
        body = confirmation_body(site.name, site.base_url, site.postal_address)
        return self._build(body, confirmation_subject(site.name), "confirm")

    def links_template(self) -> MessageTemplate:
        site = self.site
        body = links_body(site.name, site.base_url, site.postal_address)
        return self._build(body, f"Your {one_line(site.name)} links", "links")

    def _finish(self, to_addr: str, message: bytes, message_id: str) -> ConfirmationMail:
        if self.dkim is not None:
            message = self.dkim.sign(message)
        return ConfirmationMail(to_addr=to_addr, message=message, message_id=message_id)

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
        return self._finish(to_addr, message, message_id)

    def compose_links(self, link_id: str, version: int, email: str) -> ConfirmationMail:
        """An active reader's "your links" message: preferences and unsubscribe, nothing else."""
        to_addr = smtp_address(email)
        unsubscribe_url = self.links.unsubscribe(link_id, version)
        values = {
            PREFERENCES_URL: self.links.preferences(link_id, version),
            UNSUBSCRIBE_URL: unsubscribe_url,
            RECIPIENT_EMAIL: email,
        }
        message_id = new_message_id(self.sender.domain)
        message = self.links_template().render_for(
            to_addr, values, unsubscribe_url, unsubscribe_mailto="", message_id=message_id
        )
        return self._finish(to_addr, message, message_id)

    def _mail_for(self, session: Session, subscriber_id: int) -> ConfirmationMail | str:
        """The mail the reader is due (by their status now), or why there is none."""
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None:
            return "reader is gone"
        link_id, version, email = subscriber.link_id, subscriber.token_version, subscriber.email
        try:
            if subscriber.status == SubscriberStatus.PENDING:
                return self.compose(link_id, version, email)
            if subscriber.status == SubscriberStatus.ACTIVE:
                return self.compose_links(link_id, version, email)
        except ValueError as exc:
            return str(exc)
        return "reader is neither pending nor active"

    def send(self, subscriber_id: int) -> SendOutcome:
        """Mail a pending reader their confirm link, or an active one their links (after the
        subscribe transaction committed)."""
        return self.send_many([subscriber_id])[0]

    def send_many(
        self,
        subscriber_ids: Iterable[int],
        on_sent: Callable[[SendOutcome], None] | None = None,
    ) -> list[SendOutcome]:
        """`send` for many readers over one SMTP connection (an import's confirmations).

        When nothing was delivered ("retry"/"failed"), the throttle is released so the reader
        can ask again at once; "unknown" keeps it (the mail may have arrived). After a failure
        of the relay itself (cannot connect, AUTH) the rest are not tried: they fail alike.
        """
        outcomes: list[SendOutcome] = []
        transport: Transport | None = None
        broken: SendOutcome | None = None
        try:
            for subscriber_id in subscriber_ids:
                if broken is not None:
                    outcome = SendOutcome(SendStatus.RETRY, None, f"not tried: {broken.detail}")
                    self._release(subscriber_id, outcome)
                    outcomes.append(outcome)
                    if on_sent is not None:
                        on_sent(outcome)
                    continue
                with self.factory() as session:
                    mail = self._mail_for(session, subscriber_id)
                if isinstance(mail, str):
                    log.warning("mail for reader %s not sent: %s", subscriber_id, mail)
                    outcome = SendOutcome(SendStatus.FAILED, None, mail)
                else:
                    transport = transport or self.transports()
                    outcome = transport.send(self.sender.address, mail.to_addr, mail.message)
                    if outcome.status in (SendStatus.RETRY, SendStatus.FAILED):
                        self._release(subscriber_id, outcome)
                    if outcome.systemic:
                        broken = outcome
                outcomes.append(outcome)
                if on_sent is not None:
                    on_sent(outcome)
        finally:
            if transport is not None:
                transport.close()
        return outcomes

    def _release(self, subscriber_id: int, outcome: SendOutcome) -> None:
        log.warning("mail for reader %s not sent: %s", subscriber_id, outcome.detail)
        with write_transaction(self.factory) as session:
            row = session.get(Subscriber, subscriber_id)
            if row is not None:
                row.confirmation_sent_at = None
