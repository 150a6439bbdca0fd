"""A reader's digest preferences and their validation (shared by CLI, web and API)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pipeline.readers.taxonomy import canonical_category, unknown_category_message
from pipeline.store.status import Cadence

CADENCES = tuple(c.value for c in Cadence)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CATEGORY = re.compile(r"^[a-z-]{2,16}(\.[a-z-]{1,16})?$")  # the shape, before the lookup
MAX_CATEGORIES = 50
MAX_KEYWORDS = 30
MAX_KEYWORD_LENGTH = 60


class PreferenceError(ValueError):
    """A preference value was refused; the message names the field."""


@dataclass(frozen=True)
class Preferences:
    """What a reader follows and when they want it. Empty categories and keywords: everything."""

    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    cadence: str = "daily"
    papers_per_digest: int = 10
    send_hour: int = 8
    timezone: str = "UTC"
    weekly_day: int = 0
    paused: bool = False

    def with_changes(self, **changes: object) -> Preferences:
        return replace(self, **changes)  # type: ignore[arg-type]


def clean_categories(values: Iterable[str]) -> tuple[str, ...]:
    result: dict[str, None] = {}
    for raw in values:
        for part in str(raw).replace(",", " ").replace(";", " ").split():
            code = canonical_category(part) if _CATEGORY.match(part.lower()) else None
            if code is None:  # the arXiv taxonomy (pipeline/readers/taxonomy.py) decides
                raise PreferenceError(f"categories: {unknown_category_message(part)}")
            result[code] = None
    if len(result) > MAX_CATEGORIES:
        raise PreferenceError(f"categories: at most {MAX_CATEGORIES}")
    return tuple(result)


def clean_keywords(values: Iterable[str]) -> tuple[str, ...]:
    result: dict[str, None] = {}
    for raw in values:
        for part in str(raw).split(","):
            word = " ".join(part.split())
            if not word:
                continue
            if any(unicodedata.category(ch)[0] == "C" for ch in part.strip()):
                raise PreferenceError(f"keywords: {word[:20]!r} contains a control character")
            if len(word) > MAX_KEYWORD_LENGTH:
                raise PreferenceError(
                    f"keywords: {word[:20]!r}... must be under {MAX_KEYWORD_LENGTH} characters"
                )
            result[word.casefold()] = None
    if len(result) > MAX_KEYWORDS:
        raise PreferenceError(f"keywords: at most {MAX_KEYWORDS}")
    return tuple(result)


def validate(prefs: Preferences, max_papers: int) -> Preferences:
    """Normalized preferences, or PreferenceError naming the first bad field."""
    if prefs.cadence not in CADENCES:
        raise PreferenceError(f"cadence: choose {' or '.join(CADENCES)}")
    if not 1 <= prefs.papers_per_digest <= max_papers:
        raise PreferenceError(f"papers per digest: choose 1 to {max_papers}")
    if not 0 <= prefs.send_hour <= 23:
        raise PreferenceError("send hour: choose 0 to 23")
    if not 0 <= prefs.weekly_day <= 6:
        raise PreferenceError("weekly day: choose Monday to Sunday")
    if prefs.timezone not in _zones():
        try:
            ZoneInfo(prefs.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise PreferenceError(
                f"time zone: {prefs.timezone!r} is not an IANA time zone"
            ) from None
    return replace(
        prefs,
        categories=clean_categories(prefs.categories),
        keywords=clean_keywords(prefs.keywords),
    )


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


def common_timezones() -> list[str]:
    """Time zones for a form's select box, sorted."""
    return sorted(zone for zone in _zones() if "/" in zone or zone == "UTC")
