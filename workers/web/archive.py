"""Past editions in the browser (the digest's "view in browser" link), with no reader's links.

An edition page is the digest message itself, made by the composer that sends digests
(pipeline/digest/preview.py `edition_page`), with every paper and neutral links in place of
the personal ones; cached per edition (a compile costs ~0.2 s; a past edition's papers do not
change). Only pages found are kept: an edition that does not exist yet answers 404 until
it does, not for an hour after. Ids outside the store's 64-bit range never reach it (404).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, url_for

from pipeline.digest.planning import recent_editions
from pipeline.digest.preview import edition_page
from workers.web.context import web
from workers.web.security import ARCHIVE_CSP

bp = Blueprint("archive", __name__)
INDEX_SIZE = 60
MAX_ID = 2**63 - 1  # BIGINT; a larger id overflows the query (a 500), so it is routed to 404


@bp.get("/archive")
def index() -> str:
    with web().sessions() as session:
        editions = recent_editions(session, INDEX_SIZE)
    rows = [
        {"id": e.id, "cadence": e.cadence, "date": e.slot_date, "papers": e.papers}
        for e in editions
        if e.papers
    ]
    return render_template("archive.html.j2", editions=rows)


def _render(edition_id: int) -> str | None:
    w = web()
    help_url = w.settings.base_url.rstrip("/") + url_for("unsubscribe.help_page")
    return edition_page(w.wiring.composer(), edition_id, help_url)


@bp.get(f"/archive/<int(min=1, max={MAX_ID}):edition_id>")
def edition(edition_id: int) -> Response:
    html = web().archive_pages.get(
        edition_id, lambda: _render(edition_id), keep=lambda page: page is not None
    )
    if html is None:
        abort(404)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = ARCHIVE_CSP
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
