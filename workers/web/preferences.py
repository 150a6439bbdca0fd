"""Preferences, reached by the signed link in every digest (no password, no account)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from pipeline.readers.lifecycle import preferences_of, update_preferences
from pipeline.readers.preferences import PreferenceError
from pipeline.store.db import write_transaction
from pipeline.store.models import Subscriber
from workers.web.context import web
from workers.web.forms import KNOWN_CATEGORIES, Errors, form_categories, parse_preferences
from workers.web.home import form_choices
from workers.web.limits import limit_ip
from workers.web.signed import claims, reader

bp = Blueprint("preferences", __name__)


def _page(
    token: str,
    subscriber: Subscriber,
    values: dict[str, object],
    errors: Errors,
    saved: bool = False,
) -> str:
    w = web()
    return render_template(
        "preferences.html.j2",
        token=token,
        email=subscriber.email,
        status=subscriber.status,
        unsubscribe_url=w.links.unsubscribe(subscriber.link_id, subscriber.token_version),
        values=values,
        errors=errors,
        saved=saved,
        **form_choices(),
    )


def _values_of(subscriber: Subscriber) -> dict[str, object]:
    prefs = preferences_of(subscriber)
    return {
        "categories": [c for c in prefs.categories if c in KNOWN_CATEGORIES],
        "other_categories": " ".join(c for c in prefs.categories if c not in KNOWN_CATEGORIES),
        "keywords": ", ".join(prefs.keywords),
        "cadence": prefs.cadence,
        "papers_per_digest": prefs.papers_per_digest,
        "send_hour": prefs.send_hour,
        "timezone": prefs.timezone,
        "weekly_day": prefs.weekly_day,
        "paused": prefs.paused,
    }


@bp.get("/preferences/<token>")
def show(token: str) -> str:
    with web().sessions() as session:
        subscriber = reader(session, "preferences", token)
        return _page(
            token, subscriber, _values_of(subscriber), {}, saved=request.args.get("saved") == "1"
        )


@bp.post("/preferences/<token>")
def save(token: str) -> Response | tuple[str, int]:
    limit_ip()
    w = web()
    with write_transaction(w.sessions) as session:
        subscriber = reader(session, "preferences", token)
        current = preferences_of(subscriber)
        prefs, errors = parse_preferences(
            request.form, form_categories(request.form), current, w.settings.max_papers_per_digest
        )
        if not errors:
            found = claims("preferences", token)
            try:
                update_preferences(
                    session,
                    found.link_id,
                    found.version,
                    prefs,
                    max_papers=w.settings.max_papers_per_digest,
                )
            except PreferenceError as exc:  # pragma: no cover - parse_preferences validated
                errors["form"] = str(exc)
        if errors:
            values: dict[str, object] = dict(request.form)
            values["categories"] = form_categories(request.form)
            values["paused"] = "paused" in request.form
            return _page(token, subscriber, values, errors), 400
    return redirect(url_for("preferences.show", token=token, saved="1"), 303)
