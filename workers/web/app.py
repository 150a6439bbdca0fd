"""The Flask app factory: settings in, a WSGI app out (served by waitress, workers/cli/web.py)."""

from __future__ import annotations

import logging

from flask import Flask, Response, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from pipeline.render.context import long_date
from pipeline.render.fields import safe_url
from pipeline.render.tex import tex_to_text
from pipeline.render.ways_in import way_in
from pipeline.resources import templates_dir
from pipeline.wiring import Wiring
from workers.web import (
    api,
    archive,
    browser_view,
    confirm,
    feedback,
    home,
    preferences,
    unsubscribe,
)
from workers.web.context import EXTENSION, Web
from workers.web.limits import RateLimited
from workers.web.mailer import Busy, ConfirmationMailer
from workers.web.security import CsrfError, install
from workers.web.signed import LinkProblem
from workers.web.signup import recorder

log = logging.getLogger(__name__)
WEB_TEMPLATES = templates_dir() / "web"
ERROR_TITLES = {
    400: "That request could not be used",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed here",
    413: "That was too much data",
    415: "Unsupported content type",
    429: "Too many requests",
    500: "Something went wrong on our side",
    503: "Busy right now",
}
BUSY_RETRY_AFTER = 60


def create_app(wiring: Wiring) -> Flask:
    """The web app of a configured Paperround."""
    settings = wiring.settings
    app = Flask(
        __name__,
        template_folder=str(WEB_TEMPLATES),
        static_folder=str(WEB_TEMPLATES / "static"),
    )
    # Flask autoescapes only *.html; our templates are *.html.j2, so turn it on for all.
    app.jinja_env.autoescape = True
    app.secret_key = wiring.secret_key
    install(app, settings.web_max_request_bytes, settings.base_url.startswith("https://"))
    if settings.web_trusted_proxies:
        # The one reader of forwarding headers (waitress is told to pass them through,
        # workers/web/server.py): the client is the address the n-th proxy from us saw.
        # X-Forwarded-Host is not read: links use base_url, and a proxy that does not set
        # that header passes on whatever the client sent.
        n = settings.web_trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=0)  # type: ignore[method-assign]
    app.extensions[EXTENSION] = Web(
        wiring=wiring,
        settings=settings,
        sessions=wiring.sessions,
        signer=wiring.signer,
        links=wiring.links,
        limiter=wiring.limiter(),
        mailer=ConfirmationMailer(recorder(wiring), wiring.confirmations.send),
    )
    app.jinja_env.filters["safe_url"] = safe_url  # feed links: only http(s), else no link
    app.jinja_env.filters["long_date"] = long_date  # English, whatever the process locale
    app.jinja_env.filters["tex"] = tex_to_text  # titles, abstracts: TeX shown as Unicode
    app.jinja_env.globals["way_in"] = way_in  # a paper's title link and DOI, as in the mail
    app.jinja_env.globals.update(
        site_name=settings.site_name, postal_address=settings.postal_address
    )
    for module in (home, confirm, preferences, unsubscribe, feedback, archive, browser_view, api):
        app.register_blueprint(module.bp)
    _error_handlers(app)
    return app


def _page(
    status: int,
    message: str,
    *,
    title: str | None = None,
    expired: bool = False,
    retry_after: int | None = None,
) -> Response:
    if request.path.startswith("/api/"):
        code = {404: "invalid_link", 429: "rate_limited", 503: "busy"}.get(status, "bad_request")
        response = api.json_error(status, code, message)
    else:
        html = render_template(
            "error.html.j2",
            status=status,
            title=title or ERROR_TITLES.get(status, "Error"),
            message=message,
            expired=expired,
        )
        response = Response(html, status=status, mimetype="text/html")
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)  # RFC 6585 section 4
    return response


def _error_handlers(app: Flask) -> None:
    @app.errorhandler(LinkProblem)
    def link_problem(exc: LinkProblem) -> Response:
        title = "This link has expired" if exc.expired else "This link does not work"
        return _page(exc.status, exc.message, title=title, expired=exc.expired)

    @app.errorhandler(CsrfError)
    def csrf(_exc: CsrfError) -> Response:
        return _page(
            400,
            "This form is out of date or was sent from another site. "
            "Go back, reload the page and try again.",
            title="Please reload the form",
        )

    @app.errorhandler(RateLimited)
    def limited(exc: RateLimited) -> Response:
        minutes = max(1, round(exc.retry_after / 60))
        return _page(
            429,
            f"Too many attempts. Please try again in about {minutes} "
            f"minute{'s' if minutes != 1 else ''}.",
            retry_after=exc.retry_after,
        )

    @app.errorhandler(Busy)
    def busy(_exc: Busy) -> Response:
        return _page(
            503,
            "Too many people are subscribing at this moment. Please try again in a minute.",
            retry_after=BUSY_RETRY_AFTER,
        )

    @app.errorhandler(api.ApiError)
    def api_error(exc: api.ApiError) -> Response:
        return exc.response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        messages = {
            404: "There is nothing at this address.",
            405: "This page cannot be used that way.",
            413: "The request was larger than this site accepts.",
        }
        return _page(status, messages.get(status, exc.description or "Bad request."))

    @app.errorhandler(Exception)
    def crash(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _page(500, "The error was logged. Please try again in a few minutes.")
