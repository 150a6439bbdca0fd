"""One subscribe request, shared by the form, the API and the resubscribe button."""

from __future__ import annotations

from flask import request

from pipeline.readers.lifecycle import Consent, subscribe
from pipeline.readers.preferences import Preferences
from pipeline.store.db import write_transaction
from pipeline.store.status import ConsentChannel
from workers.web.context import web
from workers.web.limits import client_ip, limit_address


def request_subscription(email: str, prefs: Preferences, channel: str) -> None:
    """Record the request and consent; mail a confirm link if the service says one is due.

    Whatever the address's state (new, pending, active, unsubscribed, suppressed), the caller
    answers the same way: that is what keeps the form from revealing who subscribes.
    """
    w = web()
    limit_address(email)
    consent = Consent(ConsentChannel(channel), ip=client_ip(), user_agent=request.user_agent.string)
    with write_transaction(w.sessions) as session:
        outcome = subscribe(
            session, email, prefs, consent, max_papers=w.settings.max_papers_per_digest
        )
        mail_to = (
            outcome.subscriber.id
            if outcome.send_confirmation and outcome.subscriber is not None
            else None
        )
    if mail_to is not None:  # after commit: the sender reads the committed row
        w.mailer.submit(mail_to)
