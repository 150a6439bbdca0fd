"""The confirm link from the double opt-in mail: a page with one button; the button confirms.

GET never confirms: mail scanners and link previews open every link in a message, and a
subscription must start only when the reader asks for it. The POST (CSRF-checked, like every
form) makes pending -> active; pressing it again only shows "already confirmed".
"""

from __future__ import annotations

from flask import Blueprint, render_template

from pipeline.readers.lifecycle import SubscriptionError, confirm, confirmable
from pipeline.store.db import write_transaction
from pipeline.store.models import Subscriber
from pipeline.store.status import SubscriberStatus
from workers.web.context import web
from workers.web.signed import LinkProblem, claims

bp = Blueprint("confirm", __name__)


def _confirmed(reader: Subscriber, already: bool) -> str:
    return render_template(
        "confirmed.html.j2",
        already=already,
        preferences_url=web().links.preferences(reader.link_id, reader.token_version),
        cadence=reader.cadence,
    )


@bp.get("/confirm/<token>")
def confirm_page(token: str) -> str:
    """Shows what the button will do; changes nothing. Expired, forged or revoked links get
    the same error pages as the POST would."""
    found = claims("confirm", token)
    with web().sessions() as session:
        try:
            reader = confirmable(session, found.link_id, found.version)
        except SubscriptionError as exc:
            raise LinkProblem(404, str(exc)) from None
        if reader.status == SubscriberStatus.ACTIVE:
            return _confirmed(reader, already=True)
        return render_template("confirm.html.j2", token=token, email=reader.email)


@bp.post("/confirm/<token>")
def confirm_post(token: str) -> str:
    found = claims("confirm", token)
    with write_transaction(web().sessions) as session:
        try:
            was_active = confirmable(session, found.link_id, found.version).status
            reader = confirm(session, found.link_id, found.version)
        except SubscriptionError as exc:
            raise LinkProblem(404, str(exc)) from None
    return _confirmed(reader, already=was_active == SubscriberStatus.ACTIVE)
