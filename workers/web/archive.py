"""Past editions in the browser: the archive's index, and one edition's papers.

Both are pages of the site (its layout, navigation and CSP), not the digest message. Only
published editions are shown, those some reader was to get (pipeline/delivery/inspect.py):
an edition planned for nobody never appears. An edition page is cached per edition and day
(its heading says "Today's papers" on its day only); a page not found is not kept, since the
edition may be published a minute later. Ids outside the store's 64-bit range never reach it.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template

from pipeline.delivery.inspect import published_editions
from pipeline.digest.pages import archive_page
from pipeline.timeutil import utcnow
from workers.web.context import web

bp = Blueprint("archive", __name__)
INDEX_SIZE = 60
MAX_ID = 2**63 - 1  # BIGINT; a larger id overflows the query (a 500), so it is routed to 404


@bp.get("/archive")
def index() -> str:
    with web().sessions() as session:
        editions = published_editions(session, INDEX_SIZE)
    return render_template("archive.html.j2", editions=editions)


def _render(edition_id: int) -> str | None:
    w = web()
    with w.sessions() as session:
        page = archive_page(session, edition_id, w.settings.ranking_gravity)
        if page is None:
            return None
        return render_template("edition.html.j2", page=page, reader=False)


@bp.get(f"/archive/<int(min=1, max={MAX_ID}):edition_id>")
def edition(edition_id: int) -> Response:
    today = utcnow().date()
    html = web().archive_pages.get(
        (edition_id, today), lambda: _render(edition_id), keep=lambda page: page is not None
    )
    if html is None:
        abort(404)
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
