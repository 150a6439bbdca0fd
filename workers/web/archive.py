"""Past editions in the browser (the digest's "view in browser" link), with no reader's links.

An edition page is the digest email itself, compiled through pipeline.render.edition with every
paper and neutral links in place of the personal ones, cached per edition (a compile costs
~0.2 s; the papers of a past edition do not change).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template
from sqlalchemy import select

from pipeline.digest.compose import edition_content
from pipeline.render.edition import PersonalLinks, compile_edition, personalize
from pipeline.store.models import Edition
from workers.web.context import web
from workers.web.security import ARCHIVE_CSP

bp = Blueprint("archive", __name__)
INDEX_SIZE = 60


@bp.get("/archive")
def index() -> str:
    with web().sessions() as session:
        editions = session.execute(
            select(Edition.id, Edition.cadence, Edition.slot_date, Edition.paper_ids)
            .order_by(Edition.slot_date.desc(), Edition.id.desc())
            .limit(INDEX_SIZE)
        ).all()
    rows = [
        {"id": e.id, "cadence": e.cadence, "date": e.slot_date, "papers": len(e.paper_ids)}
        for e in editions
        if e.paper_ids
    ]
    return render_template("archive.html.j2", editions=rows)


def _render(edition_id: int) -> str | None:
    w = web()
    with w.sessions() as session:
        edition = session.get(Edition, edition_id)
        if edition is None:
            return None
        content = edition_content(session, edition, w.settings)
    if not content.papers:
        return None
    compiled = compile_edition(content)
    body = compiled.assemble([paper.key for paper in content.papers])
    neutral = PersonalLinks(
        unsubscribe_url=w.links.home().rstrip("/") + "/unsubscribe",
        preferences_url=w.links.home().rstrip("/") + "/unsubscribe",
        view_in_browser_url=w.links.archive(edition_id),
    )
    html, _text = personalize(body, neutral)
    return html


@bp.get("/archive/<int:edition_id>")
def edition(edition_id: int) -> Response:
    html = web().archive_pages.get(edition_id, lambda: _render(edition_id))
    if html is None:
        abort(404)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = ARCHIVE_CSP
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
