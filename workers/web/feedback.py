""" "More like this" / "less like this" from a digest card, without an account.

GET shows the paper and one button: mail scanners open every link, so a GET never records
anything. The button POSTs the rating; the page that follows offers an undo. The link is
signed for one reader and one paper (pipeline/readers/links.py).
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from sqlalchemy.orm import Session

from pipeline.readers.feedback import CLEAR, VOTES, FeedbackError, paper_card, rate, rating_of
from pipeline.readers.lifecycle import SubscriptionError, reader_from_link
from pipeline.readers.links import FeedbackClaims, TokenError
from pipeline.store.db import write_transaction
from pipeline.store.models import Subscriber
from pipeline.store.status import RatingVia
from workers.web.context import web
from workers.web.limits import limit_ip
from workers.web.signed import LinkProblem

bp = Blueprint("feedback", __name__)
CHOICES = {**VOTES, "clear": CLEAR}


def _claims(token: str) -> FeedbackClaims:
    try:
        return web().signer.check_feedback(token)
    except TokenError as exc:
        raise LinkProblem(400, str(exc)) from None


def _reader(session: Session, claims: FeedbackClaims) -> Subscriber:
    try:
        return reader_from_link(session, claims.link_id, claims.version)
    except SubscriptionError as exc:
        raise LinkProblem(404, str(exc)) from None


def _choice(vote: str) -> int:
    if vote not in CHOICES:
        abort(404)
    return CHOICES[vote]


@bp.get("/feedback/<token>/<vote>")
def feedback_get(token: str, vote: str) -> str:
    value = _choice(vote)
    claims = _claims(token)
    w = web()
    with w.sessions() as session:
        subscriber = _reader(session, claims)
        card = paper_card(session, claims.paper_id)
        if card is None:
            raise LinkProblem(404, "This paper is no longer in the store.")
        current = rating_of(session, subscriber.id, card.id)
        return render_template(
            "feedback.html.j2",
            token=token,
            vote=vote,
            value=value,
            current=current,
            paper=card,
            active=subscriber.status == "active",
            preferences_url=w.links.preferences(claims.link_id, claims.version),
        )


@bp.post("/feedback/<token>/<vote>")
def feedback_post(token: str, vote: str) -> str:
    limit_ip()
    value = _choice(vote)
    claims = _claims(token)
    w = web()
    with write_transaction(w.sessions) as session:
        subscriber = _reader(session, claims)
        card = paper_card(session, claims.paper_id)
        if card is None:
            raise LinkProblem(404, "This paper is no longer in the store.")
        try:
            rate(session, subscriber, card.id, value, RatingVia.EMAIL)
        except FeedbackError as exc:
            raise LinkProblem(400, str(exc)) from None
    return render_template(
        "feedback_done.html.j2",
        token=token,
        value=value,
        paper=card,
        preferences_url=w.links.preferences(claims.link_id, claims.version),
    )
