"""The confirm link from the double opt-in mail: pending -> active. Replaying it is harmless."""

from __future__ import annotations

from flask import Blueprint, render_template

from pipeline.readers.lifecycle import SubscriptionError, confirm, reader_from_link
from pipeline.store.db import write_transaction
from workers.web.context import web
from workers.web.signed import LinkProblem, claims

bp = Blueprint("confirm", __name__)


@bp.get("/confirm/<token>")
def confirm_link(token: str) -> str:
    """GET activates: the link proves the reader holds the mailbox, and doing it twice only
    shows "already confirmed" (no state changes on replay)."""
    w = web()
    found = claims("confirm", token)
    with write_transaction(w.sessions) as session:
        try:
            was_active = reader_from_link(session, found.link_id, found.version).status
            reader = confirm(session, found.link_id, found.version)
        except SubscriptionError as exc:
            raise LinkProblem(404, str(exc)) from None
        preferences_url = w.links.preferences(reader.link_id, reader.token_version)
        cadence = reader.cadence
    return render_template(
        "confirmed.html.j2",
        already=was_active == "active",
        preferences_url=preferences_url,
        cadence=cadence,
    )
