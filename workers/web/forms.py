"""Reading the subscribe and preferences forms (and the API's JSON) into pipeline values.

Errors come back per field, worded for a person, so each page can show them next to the
field they are about.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from pipeline.readers.addresses import AddressError, normalize_address
from pipeline.readers.preferences import WEEKDAYS, PreferenceError, Preferences, validate

CATEGORY_CHOICES = (
    ("cs.AI", "Artificial intelligence"),
    ("cs.LG", "Machine learning"),
    ("cs.CL", "Computation and language"),
    ("cs.CV", "Computer vision"),
    ("stat.ML", "Statistical machine learning"),
    ("cs.RO", "Robotics"),
    ("cs.IR", "Information retrieval"),
    ("cs.CR", "Security and cryptography"),
    ("cs.NE", "Neural and evolutionary computing"),
    ("cs.HC", "Human-computer interaction"),
)
KNOWN_CATEGORIES = {code for code, _ in CATEGORY_CHOICES}
# PreferenceError messages start with the field's name (pipeline/readers/preferences.py).
_FIELD_OF_PREFIX = {
    "categories": "categories",
    "keywords": "keywords",
    "cadence": "cadence",
    "papers per digest": "papers_per_digest",
    "send hour": "send_hour",
    "weekly day": "weekly_day",
    "time zone": "timezone",
}
Errors = dict[str, str]
TIMEZONE_CHARS = 64  # the column's width; no IANA name comes close


def field_of(error: PreferenceError) -> str:
    prefix = str(error).partition(":")[0]
    return _FIELD_OF_PREFIX.get(prefix, "form")


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise PreferenceError("categories: send a list of arXiv categories")


_DIGITS = re.compile(r"[+-]?[0-9]{1,4000}")  # int() refuses more than 4,300 digits


def whole_number(value: Any) -> int | None:
    """A whole number from a form field (text) or a JSON value, else None: NaN, infinities
    (JSON 1e400 is one), fractions, booleans, lists, words. Large values are kept: the range
    check (pipeline/readers/preferences.py) then names the field and the allowed range."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return int(value.strip())
    return None


def _whole(value: Any, field: str, label: str, errors: Errors, default: int) -> int:
    if value is None or value == "":
        return default
    number = whole_number(value)
    if number is None:
        errors[field] = f"{label}: enter a whole number."
        return default
    return number


def _timezone(value: Any, errors: Errors, default: str) -> str:
    if value is None or value == "":
        return default
    if not isinstance(value, str) or len(value) > TIMEZONE_CHARS:
        errors["timezone"] = "Time zone: choose one from the list."
        return default
    return value


def parse_preferences(
    data: Mapping[str, Any], categories: list[str], defaults: Preferences, max_papers: int
) -> tuple[Preferences, Errors]:
    """Preferences from form fields (or JSON), validated; errors keyed by field name."""
    errors: Errors = {}
    keywords = data.get("keywords", "")
    if isinstance(keywords, list):
        keywords = ",".join(str(k) for k in keywords)
    weekly_day = data.get("weekly_day")
    if isinstance(weekly_day, str) and weekly_day.lower() in WEEKDAYS:
        weekly_day = WEEKDAYS.index(weekly_day.lower())
    prefs = defaults.with_changes(
        categories=tuple(categories),
        keywords=(str(keywords),),
        cadence=str(data.get("cadence") or defaults.cadence),
        papers_per_digest=_whole(
            data.get("papers_per_digest"),
            "papers_per_digest",
            "Papers per digest",
            errors,
            defaults.papers_per_digest,
        ),
        send_hour=_whole(
            data.get("send_hour"), "send_hour", "Send hour", errors, defaults.send_hour
        ),
        weekly_day=_whole(weekly_day, "weekly_day", "Weekly day", errors, defaults.weekly_day),
        timezone=_timezone(data.get("timezone"), errors, defaults.timezone),
        paused=data.get("paused") in ("on", "1", "true", True),
    )
    try:
        prefs = validate(prefs, max_papers)
    except PreferenceError as exc:
        errors.setdefault(field_of(exc), _sentence(str(exc)))
    return prefs, errors


def form_categories(form: Any) -> list[str]:
    """Ticked boxes plus the free-text "other categories" field."""
    chosen = [c for c in form.getlist("categories") if c in KNOWN_CATEGORIES]
    chosen.extend(str(form.get("other_categories", "")).replace(",", " ").split())
    return chosen


def json_categories(data: Mapping[str, Any]) -> list[str]:
    return _as_list(data.get("categories"))


def parse_email(raw: Any, errors: Errors) -> str | None:
    """The normalized address, or None with errors["email"] set (the one validator)."""
    try:
        address = normalize_address(raw if isinstance(raw, str) else "")
    except AddressError as exc:
        errors["email"] = _sentence(str(exc))
        return None
    return address.email


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
