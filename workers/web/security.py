"""Headers, CSRF and request limits that every page gets.

- CSP: no script at all (the site works without JavaScript), styles only from /static,
  `frame-ancestors 'none'` against clickjacking (CSP Level 2; X-Frame-Options for old browsers).
- Referrer-Policy no-referrer: signed links carry tokens in the path; they must not leak to
  the sites a reader clicks through to.
- CSRF: a random token in the signed session cookie, echoed by every form (double submit).
  Exempt: the JSON API (it demands application/json, which a cross-site form cannot send)
  and the RFC 8058 one-click POST (mail clients send it without cookies; the signed URL is
  the credential).
"""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, Response, abort, request, session

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
# The archive shows the digest email as sent: its CSS is inline (premailer), so inline styles
# are allowed there and nothing else is. Script stays forbidden.
ARCHIVE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
CSRF_FIELD = "csrf_token"
ONE_CLICK_FIELD, ONE_CLICK_VALUE = "List-Unsubscribe", "One-Click"  # RFC 8058 section 3.2
CSRF_EXEMPT_BLUEPRINTS = {"api"}
ONE_CLICK_ENDPOINTS = {"unsubscribe.unsubscribe_post"}


class CsrfError(Exception):
    """The form lacks a valid CSRF token (old page, or sent from another site)."""


def csrf_token() -> str:
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def is_one_click() -> bool:
    return request.form.get(ONE_CLICK_FIELD) == ONE_CLICK_VALUE


def _check_csrf() -> None:
    if request.method != "POST" or request.blueprint in CSRF_EXEMPT_BLUEPRINTS:
        return
    if request.endpoint in ONE_CLICK_ENDPOINTS and is_one_click():
        return
    expected = session.get(CSRF_FIELD)
    sent = request.form.get(CSRF_FIELD, "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected, sent):
        raise CsrfError


def server_error_headers() -> list[tuple[str, str]]:
    """The headers of an app page, for the errors the HTTP server answers itself (it refuses
    some requests before the app runs: workers/web/server.py)."""
    return [*HEADERS.items(), ("Content-Security-Policy", CSP), ("Cache-Control", "no-store")]


def _add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Content-Security-Policy", CSP)
    if request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "public, max-age=3600")
    else:
        # Pages can carry signed links and CSRF tokens: never keep them in shared caches.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _refuse_oversized() -> None:
    # Werkzeug enforces MAX_CONTENT_LENGTH only when the body is read; checking the declared
    # length first refuses a big upload before anything parses it.
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        abort(413)


def install(app: Flask, max_request_bytes: int, secure_cookies: bool) -> None:
    app.config.update(
        MAX_CONTENT_LENGTH=max_request_bytes,
        MAX_FORM_MEMORY_SIZE=max_request_bytes,
        MAX_FORM_PARTS=200,
        SESSION_COOKIE_NAME="paperround_csrf",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure_cookies,
    )
    app.before_request(_refuse_oversized)
    app.before_request(_check_csrf)
    app.after_request(_add_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
