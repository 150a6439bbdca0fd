"""The home page (what the digest is, today's top papers, the form) and "check your inbox"."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from pipeline.ingest.catalog import newest_fetch
from pipeline.ranking.ranked import RankedPaper
from pipeline.ranking.top import top_trending
from pipeline.readers.preferences import WEEKDAYS, common_timezones
from pipeline.timeutil import utcnow
from workers.web.context import web
from workers.web.forms import (
    CATEGORY_CHOICES,
    Errors,
    form_categories,
    parse_email,
    parse_preferences,
)
from workers.web.limits import limit_ip
from workers.web.signup import request_subscription

bp = Blueprint("home", __name__)
SAMPLE_SIZE = 5
HONEYPOT = "website"  # hidden from people by CSS; bots that fill every field reveal themselves


def _top_papers() -> list[RankedPaper]:
    """Today's sample, cached per ingestion: the key is the newest fetch of any source, so
    papers that just landed show at once and between ingestions ranking runs once per TTL.

    `top_trending` reads a few batches, not the day's papers, and the cache makes the value
    once however many first visits arrive together (they wait for that one; /healthz and
    the other pages wait for nothing).
    """
    w = web()
    with w.sessions() as session:
        fetched = newest_fetch(session)

    def load() -> list[RankedPaper]:
        now = utcnow()
        with w.sessions() as session:
            for days in (1, 7):
                papers = top_trending(
                    session,
                    SAMPLE_SIZE,
                    since=now - timedelta(days=days),
                    gravity=w.settings.ranking_gravity,
                    now=now,
                )
                if papers:
                    return papers
        return []

    return w.home_papers.get(("top", fetched), load)


def form_choices() -> dict[str, object]:
    w = web()
    return {
        "category_choices": CATEGORY_CHOICES,
        "timezones": common_timezones(),
        "weekdays": [d.capitalize() for d in WEEKDAYS],
        "max_papers": w.settings.max_papers_per_digest,
    }


def _home(errors: Errors | None = None, values: dict[str, object] | None = None) -> str:
    return render_template(
        "home.html.j2",
        papers=_top_papers(),
        errors=errors or {},
        values=values or {"categories": [], "cadence": "daily"},
        **form_choices(),
    )


@bp.get("/")
def home() -> str:
    return _home()


@bp.post("/subscribe")
def subscribe() -> Response | tuple[str, int]:
    limit_ip()
    if request.form.get(HONEYPOT):
        return redirect(url_for("home.check_inbox"), 303)  # look like success to the bot
    w = web()
    errors: Errors = {}
    email = parse_email(request.form.get("email", ""), errors)
    categories = form_categories(request.form)
    prefs, pref_errors = parse_preferences(
        request.form,
        categories,
        w.wiring.default_preferences(),
        w.settings.max_papers_per_digest,
    )
    errors.update(pref_errors)
    if errors or email is None:
        values: dict[str, object] = {
            "email": request.form.get("email", "")[:320],
            "categories": categories,
            "other_categories": request.form.get("other_categories", "")[:200],
            "keywords": request.form.get("keywords", "")[:500],
            "cadence": request.form.get("cadence", "daily"),
        }
        return _home(errors, values), 400
    request_subscription(email, prefs, "web")
    return redirect(url_for("home.check_inbox"), 303)


@bp.get("/check-inbox")
def check_inbox() -> str:
    return render_template("check_inbox.html.j2")


@bp.get("/healthz")
def healthz() -> Response:
    return Response("ok\n", mimetype="text/plain")
