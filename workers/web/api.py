"""The JSON API for integrations: the same rules as the forms, answers as JSON.

    POST /api/subscribe    {"email": ..., "categories": [...], "keywords": [...], "cadence": ...}
        -> 202 {"status": "pending_confirmation", ...}  (the same for every address)
    POST /api/unsubscribe  {"token": "<token from an unsubscribe link>"}
        -> 200 {"status": "unsubscribed"}
Errors: {"error": code, "message": one line, "field": name (when about one field)}.
CSRF does not apply: only application/json is accepted, which a cross-site form cannot send
without a CORS preflight that this API never grants.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from pipeline.readers.lifecycle import unsubscribe
from pipeline.store.db import write_transaction
from workers.web.context import web
from workers.web.forms import Errors, json_categories, parse_email, parse_preferences
from workers.web.limits import limit_ip
from workers.web.signed import claims, reader
from workers.web.signup import request_subscription

bp = Blueprint("api", __name__, url_prefix="/api")
PENDING_MESSAGE = "If the address can receive the digest, a confirmation link is on its way."


def json_error(status: int, code: str, message: str, field: str | None = None) -> Response:
    body: dict[str, str] = {"error": code, "message": message}
    if field:
        body["field"] = field
    response = jsonify(body)
    response.status_code = status
    return response


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.response = json_error(status, code, message, field)


def _json_body() -> dict[str, Any]:
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the parser goes; silent= only covers ValueError
        data = None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    return data


def _first_error(errors: Errors) -> ApiError:
    field, message = next(iter(errors.items()))
    code = "invalid_email" if field == "email" else "invalid_preferences"
    return ApiError(400, code, message, field)


@bp.post("/subscribe")
def api_subscribe() -> tuple[Response, int]:
    limit_ip()
    data = _json_body()
    w = web()
    errors: Errors = {}
    email = parse_email(data.get("email"), errors)
    try:
        categories = json_categories(data)
    except ValueError as exc:
        raise ApiError(400, "invalid_preferences", str(exc), "categories") from None
    prefs, pref_errors = parse_preferences(
        data, categories, w.wiring.default_preferences(), w.settings.max_papers_per_digest
    )
    errors.update(pref_errors)
    if errors or email is None:
        raise _first_error(errors)
    request_subscription(email, prefs, "api")
    return jsonify({"status": "pending_confirmation", "message": PENDING_MESSAGE}), 202


@bp.post("/unsubscribe")
def api_unsubscribe() -> Response:
    limit_ip()
    data = _json_body()
    token = data.get("token")
    if not isinstance(token, str):
        raise ApiError(400, "invalid_token", "Send the token of an unsubscribe link.", "token")
    found = claims("unsubscribe", token)
    with write_transaction(web().sessions) as session:
        reader(session, "unsubscribe", token)
        unsubscribe(session, found.link_id, found.version)
    return jsonify({"status": "unsubscribed"})
