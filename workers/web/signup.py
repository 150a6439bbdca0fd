"""One subscribe request, shared by the form, the API and the resubscribe button.

Split in two so the answer cannot reveal who subscribes: the request half (here, in the
page) is the same work for every address; the half that depends on the address (is it
known? active? suppressed?) runs afterwards on the mailer's threads (workers/web/mailer.py).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import request

from pipeline.readers.lifecycle import Consent, subscribe
from pipeline.readers.preferences import Preferences
from pipeline.store.db import write_transaction
from pipeline.store.status import ConsentChannel
from pipeline.timeutil import utcnow
from pipeline.wiring import Wiring
from workers.web.context import web
from workers.web.limits import client_ip, limit_address
from workers.web.mailer import Signup


def request_subscription(email: str, prefs: Preferences, channel: str) -> None:
    """Accept the request: rate-limit the address and queue it with its consent record.

    Nothing here looks the address up, so the caller answers alike, in content and in time,
    whatever its state (new, pending, active, unsubscribed, suppressed).
    """
    w = web()
    limit_address(email)
    consent = Consent(ConsentChannel(channel), ip=client_ip(), user_agent=request.user_agent.string)
    w.mailer.submit(Signup(email, prefs, consent, utcnow()))


def recorder(wiring: Wiring) -> Callable[[Signup], int | None]:
    """The background half: record the request and consent; the reader to mail, if one is due."""

    def record(signup: Signup) -> int | None:
        with write_transaction(wiring.sessions) as session:
            outcome = subscribe(
                session,
                signup.email,
                signup.prefs,
                signup.consent,
                max_papers=wiring.settings.max_papers_per_digest,
                now=signup.at,
            )
            mail_to = outcome.subscriber if outcome.send_confirmation else None
        # After the commit (leaving the block), so the sender reads the committed row.
        return mail_to.id if mail_to is not None else None

    return record
