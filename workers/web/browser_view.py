"""A digest's "view in your browser" link: the papers one reader was sent, as a site page.

The link's token (pipeline/readers/view_links.py) names the reader and the edition and grants
nothing but this page: no unsubscribe, preferences or feedback actions are on it, so a link
that is forwarded or lands in a browser history gives nobody a say over the subscription.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from pipeline.digest.pages import reader_page
from pipeline.readers.links import TokenError
from pipeline.readers.view_links import ViewLinks
from workers.web.context import web
from workers.web.signed import LinkProblem

bp = Blueprint("browser_view", __name__)


def view_links() -> ViewLinks:
    w = web()
    return w.wiring.view_links


@bp.get("/view/<token>")
def view(token: str) -> Response:
    try:
        found = view_links().check(token)
    except TokenError as exc:
        raise LinkProblem(400, str(exc)) from None
    w = web()
    with w.sessions() as session:
        page = reader_page(
            session, found.link_id, found.version, found.edition_id, w.settings.ranking_gravity
        )
        if page is None:
            raise LinkProblem(404, "This digest is no longer available from this link.")
        html = render_template("edition.html.j2", page=page, reader=True)
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "private, no-store"  # one reader's page
    return response
