"""Leaving: a one-button page (GET never unsubscribes: mail scanners follow links), the POST
that unsubscribes at once, RFC 8058 one-click from mail clients, and a way back."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from werkzeug.wrappers import Response

from pipeline.readers.lifecycle import preferences_of, unsubscribe
from pipeline.store.db import write_transaction
from workers.web.context import web
from workers.web.limits import limit_ip
from workers.web.security import is_one_click
from workers.web.signed import claims, reader
from workers.web.signup import request_subscription

bp = Blueprint("unsubscribe", __name__)


@bp.get("/unsubscribe")
def help_page() -> str:
    """Where the archive's neutral links point: how to leave without a personal link."""
    return render_template("unsubscribe_help.html.j2")


@bp.get("/unsubscribe/<token>")
def unsubscribe_get(token: str) -> str:
    with web().sessions() as session:
        subscriber = reader(session, "unsubscribe", token)
        return render_template(
            "unsubscribe.html.j2",
            token=token,
            email=subscriber.email,
            status=subscriber.status,
        )


@bp.post("/unsubscribe/<token>")
def unsubscribe_post(token: str) -> str | Response:
    w = web()
    found = claims("unsubscribe", token)
    with write_transaction(w.sessions) as session:
        reader(session, "unsubscribe", token)
        subscriber = unsubscribe(session, found.link_id, found.version)
        email = subscriber.email
    if is_one_click():
        # RFC 8058: the mail client only needs a 2xx; keep the answer small and plain.
        return Response("You are unsubscribed.\n", mimetype="text/plain")
    return render_template("unsubscribed.html.j2", token=token, email=email)


@bp.post("/resubscribe/<token>")
def resubscribe(token: str) -> Response:
    """Back in, with the old preferences; a new confirmation is required (double opt-in)."""
    limit_ip()
    w = web()
    with w.sessions() as session:
        subscriber = reader(session, "unsubscribe", token)
        email, prefs = subscriber.email, preferences_of(subscriber)
    request_subscription(email, prefs, "web")
    return redirect(url_for("home.check_inbox"), 303)
