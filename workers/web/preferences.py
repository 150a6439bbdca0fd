"""Preferences, reached by the signed link in every digest (no password, no account): topics,
schedule, what the reader likes (seeds, follows, mutes, exclusions, the relevance weight)
and their ratings, each of which they can remove."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from pipeline.readers.feedback import CLEAR, FeedbackError, rate, ratings_of
from pipeline.readers.interests import Interests, load_interests, save_interests
from pipeline.readers.interests import validate as validate_interests
from pipeline.readers.lifecycle import preferences_of, update_preferences
from pipeline.readers.preferences import PreferenceError
from pipeline.store.db import write_transaction
from pipeline.store.models import Subscriber
from pipeline.store.status import RatingVia
from workers.web.context import web
from workers.web.forms import (
    KNOWN_CATEGORIES,
    Errors,
    form_categories,
    parse_preferences,
    whole_number,
)
from workers.web.home import form_choices
from workers.web.limits import limit_ip
from workers.web.signed import LinkProblem, claims, reader

bp = Blueprint("preferences", __name__)


def _page(
    session: Session,
    token: str,
    subscriber: Subscriber,
    values: dict[str, object],
    errors: Errors,
    saved: bool = False,
) -> str:
    w = web()
    return render_template(
        "preferences.html.j2",
        ratings=ratings_of(session, subscriber.id),
        token=token,
        email=subscriber.email,
        status=subscriber.status,
        paused=subscriber.paused,
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


def _interest_values(interests: Interests) -> dict[str, object]:
    def percent(value: float | None) -> str:
        return "" if value is None else str(round(value * 100))

    return {
        "seeds": "\n".join(interests.seeds),
        "follow_authors": ", ".join(interests.follow_authors),
        "mute_authors": ", ".join(interests.mute_authors),
        "exclude_keywords": ", ".join(interests.exclude_keywords),
        "relevance_weight": percent(interests.relevance_weight),
        "min_score": percent(interests.min_score),
        "skip_empty": interests.skip_empty,
    }


def _parse_interests(form: Any) -> tuple[Interests, Errors]:
    errors: Errors = {}
    shares: dict[str, float | None] = {}
    for name, label in (("relevance_weight", "relevance weight"), ("min_score", "minimum score")):
        raw = str(form.get(name, "")).strip()
        number = whole_number(raw) if raw else None
        if raw and (number is None or not 0 <= number <= 100):
            errors[name] = f"Choose a {label} from the list."
        shares[name] = number / 100 if number is not None and name not in errors else None
    interests = Interests(
        seeds=(str(form.get("seeds", "")),),
        follow_authors=(str(form.get("follow_authors", "")),),
        mute_authors=(str(form.get("mute_authors", "")),),
        exclude_keywords=(str(form.get("exclude_keywords", "")),),
        relevance_weight=shares["relevance_weight"],
        min_score=shares["min_score"],
        skip_empty="skip_empty" in form,
    )
    if errors:
        return interests, errors
    try:
        return validate_interests(interests), errors
    except PreferenceError as exc:
        return interests, {INTEREST_FIELDS.get(str(exc).split(":")[0], "form"): str(exc)}


INTEREST_FIELDS = {
    "papers you like": "seeds",
    "authors to follow": "follow_authors",
    "authors to mute": "mute_authors",
    "keywords": "exclude_keywords",
    "relevance weight": "relevance_weight",
    "minimum score": "min_score",
}


@bp.get("/preferences/<token>")
def show(token: str) -> str:
    with web().sessions() as session:
        subscriber = reader(session, "preferences", token)
        values = {
            **_values_of(subscriber),
            **_interest_values(load_interests(session, subscriber.id)),
        }
        return _page(session, token, subscriber, values, {}, saved=request.args.get("saved") == "1")


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
        interests, interest_errors = _parse_interests(request.form)
        errors.update(interest_errors)
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
            else:
                save_interests(session, subscriber.id, interests)
        if errors:
            values: dict[str, object] = dict(request.form)
            values["categories"] = form_categories(request.form)
            values["paused"] = "paused" in request.form
            values["skip_empty"] = "skip_empty" in request.form
            return _page(session, token, subscriber, values, errors), 400
    return redirect(url_for("preferences.show", token=token, saved="1"), 303)


@bp.post("/preferences/<token>/ratings/<int:paper_id>/remove")
def clear_rating(token: str, paper_id: int) -> Response:
    limit_ip()
    with write_transaction(web().sessions) as session:
        subscriber = reader(session, "preferences", token)
        try:
            rate(session, subscriber, paper_id, CLEAR, RatingVia.WEB)
        except FeedbackError as exc:
            raise LinkProblem(400, str(exc)) from None
    return redirect(url_for("preferences.show", token=token, saved="1"), 303)
