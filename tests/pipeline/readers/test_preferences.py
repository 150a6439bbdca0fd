"""pipeline.readers.preferences: validate() normalizes reader preferences, refuses bad fields."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.readers.preferences import (
    MAX_CATEGORIES,
    MAX_KEYWORD_LENGTH,
    MAX_KEYWORDS,
    PreferenceError,
    Preferences,
    common_timezones,
    validate,
)
from pipeline.readers.taxonomy import known_categories

MAX_PAPERS = 25


def valid(**changes: Any) -> Preferences:
    return validate(Preferences().with_changes(**changes), MAX_PAPERS)


def test_defaults_are_valid_and_unchanged() -> None:
    assert valid() == Preferences()


def test_good_values_pass_through() -> None:
    prefs = valid(
        cadence="weekly",
        papers_per_digest=MAX_PAPERS,
        send_hour=23,
        timezone="Europe/Berlin",
        weekly_day=6,
        paused=True,
    )
    assert prefs == Preferences(
        cadence="weekly",
        papers_per_digest=MAX_PAPERS,
        send_hour=23,
        timezone="Europe/Berlin",
        weekly_day=6,
        paused=True,
    )
    assert valid(papers_per_digest=1, send_hour=0, weekly_day=0).papers_per_digest == 1


def test_validate_returns_a_new_object() -> None:
    given = Preferences(categories=("cs.CL,cs.LG",))
    result = validate(given, MAX_PAPERS)
    assert given.categories == ("cs.CL,cs.LG",)
    assert result.categories == ("cs.CL", "cs.LG")


# --- categories ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (("cs.CL",), ("cs.CL",)),
        (("cs.CL, cs.LG",), ("cs.CL", "cs.LG")),
        (("cs.CL,cs.LG",), ("cs.CL", "cs.LG")),
        (("cs.CL cs.LG\tstat.ML\n",), ("cs.CL", "cs.LG", "stat.ML")),
        (("cs.CL", "cs.LG cs.CL", "cs.LG,,cs.CL"), ("cs.CL", "cs.LG")),
        (("cs", "astro-ph.GA", "hep-th", "q-bio.NC"), ("cs", "astro-ph.GA", "hep-th", "q-bio.NC")),
        (("", " , ", ","), ()),
        ((), ()),
    ],
)
def test_categories_are_split_on_commas_and_spaces_and_deduplicated(
    given: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    assert valid(categories=given).categories == expected


@pytest.mark.parametrize(
    "bad",
    [
        "cs.XY",  # arXiv-shaped, but no such category
        "cs.ML",  # stat.ML is
        "quant",
        "c",  # too short
        "cs..CL",
        "cs.CL.x",
        "cs/CL",
        "cs_CL",
        "cs.",
        ".CL",
        "cs.C1",
        "<script>",
        "abcdefghijklmnopq",  # 17 letters
        "cs.ÉCL",
    ],
)
def test_a_category_that_is_not_arxiv_shaped_is_refused(bad: str) -> None:
    with pytest.raises(PreferenceError, match=r"^categories: ") as caught:
        valid(categories=("cs.LG", bad))
    assert repr(bad) in str(caught.value)


def test_categories_are_looked_up_in_the_arxiv_taxonomy_and_spelled_as_arxiv_does() -> None:
    assert valid(categories=("CS.cl", "STAT.ml", "Q-BIO", "hep-TH")).categories == (
        "cs.CL",
        "stat.ML",
        "q-bio",
        "hep-th",
    )
    assert valid(categories=("cs.CL;cs.LG; math.ST",)).categories == ("cs.CL", "cs.LG", "math.ST")
    with pytest.raises(PreferenceError, match=r"'cs\.LGG' is not an arXiv category.*cs\.LG"):
        valid(categories=("cs.LGG",))
    assert "cs.CL" in known_categories() and "physics.flu-dyn" in known_categories()
    assert len(known_categories()) == len(set(known_categories())) > 150


def test_too_many_categories() -> None:
    names = [code for code in known_categories() if "." in code][: MAX_CATEGORIES + 1]
    assert len(valid(categories=tuple(names[:MAX_CATEGORIES])).categories) == MAX_CATEGORIES
    with pytest.raises(PreferenceError, match=r"^categories: at most"):
        valid(categories=tuple(names))
    # duplicates do not count towards the limit
    assert len(valid(categories=tuple(names[:MAX_CATEGORIES] * 2)).categories) == MAX_CATEGORIES


# --- keywords -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (("Diffusion",), ("diffusion",)),
        (("  Large   Language  Models ",), ("large language models",)),
        (("RAG, retrieval augmented,rag",), ("rag", "retrieval augmented")),
        (("Straße", "STRASSE"), ("strasse",)),
        (("c++", "a.b"), ("c++", "a.b")),
        (("", " , ,", ","), ()),
        (("graph", "Graph ", " GRAPH"), ("graph",)),
    ],
)
def test_keywords_are_case_folded_collapsed_and_deduplicated(
    given: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    assert valid(keywords=given).keywords == expected


def test_keyword_length_limit() -> None:
    longest = "a" * MAX_KEYWORD_LENGTH
    assert valid(keywords=(longest,)).keywords == (longest,)
    with pytest.raises(PreferenceError, match=r"^keywords: "):
        valid(keywords=(longest + "a",))
    # the limit applies after collapsing whitespace
    spaced = "a" + " " * 100 + "b"
    assert valid(keywords=(spaced,)).keywords == ("a b",)


def test_too_many_keywords() -> None:
    words = tuple(f"word{i}" for i in range(MAX_KEYWORDS + 1))
    assert len(valid(keywords=words[:MAX_KEYWORDS]).keywords) == MAX_KEYWORDS
    with pytest.raises(PreferenceError, match=r"^keywords: at most"):
        valid(keywords=words)
    with pytest.raises(PreferenceError, match=r"^keywords: at most"):
        valid(keywords=(",".join(words),))


@pytest.mark.parametrize(
    "bad",
    [
        "null\x00byte",
        "esc\x1b[31mred",
        "bell\x07",
        "\x01start",
        "del\x7fete",
        "c1\x9bcontrol",
        "c1\x80control",
    ],
    ids=["NUL", "ESC", "BEL", "SOH", "DEL", "CSI", "PAD"],
)
def test_control_characters_in_a_keyword_are_refused(bad: str) -> None:
    with pytest.raises(PreferenceError, match=r"^keywords: "):
        valid(keywords=(bad,))


def test_a_short_keyword_with_a_control_character_is_not_called_too_long() -> None:
    with pytest.raises(PreferenceError, match=r"^keywords: ") as caught:
        valid(keywords=("null\x00byte",))
    assert f"under {MAX_KEYWORD_LENGTH} characters" not in str(caught.value)


# --- the other fields -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"cadence": "monthly"}, "cadence"),
        ({"cadence": "Daily"}, "cadence"),
        ({"cadence": ""}, "cadence"),
        ({"papers_per_digest": 0}, "papers per digest"),
        ({"papers_per_digest": -1}, "papers per digest"),
        ({"papers_per_digest": MAX_PAPERS + 1}, "papers per digest"),
        ({"send_hour": -1}, "send hour"),
        ({"send_hour": 24}, "send hour"),
        ({"weekly_day": -1}, "weekly day"),
        ({"weekly_day": 7}, "weekly day"),
        ({"timezone": "Mars/Olympus_Mons"}, "time zone"),
        ({"timezone": ""}, "time zone"),
        ({"timezone": "utc"}, "time zone"),
        ({"timezone": "UTC "}, "time zone"),
        ({"timezone": "../../etc/passwd"}, "time zone"),
        ({"timezone": "/etc/localtime"}, "time zone"),
        ({"timezone": "Europe"}, "time zone"),  # a folder of zones, not a zone
    ],
)
def test_every_bad_field_is_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(PreferenceError) as caught:
        valid(**changes)
    assert str(caught.value).startswith(f"{field}: ")


def test_papers_per_digest_bound_follows_max_papers() -> None:
    prefs = Preferences(papers_per_digest=40)
    assert validate(prefs, 40).papers_per_digest == 40
    with pytest.raises(PreferenceError, match=r"^papers per digest: choose 1 to 39$"):
        validate(prefs, 39)


def test_preference_error_is_a_value_error() -> None:
    assert issubclass(PreferenceError, ValueError)


# --- time zones --------------------------------------------------------------------------------


def test_common_timezones_are_sorted_and_hold_the_usual_zones() -> None:
    zones = common_timezones()
    assert zones == sorted(zones)
    assert len(zones) == len(set(zones))
    assert {"UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"} <= set(zones)
    # only Area/Location names (and UTC): no "EST", "GMT+0", "localtime"...
    assert all("/" in zone or zone == "UTC" for zone in zones)


def test_every_common_timezone_validates() -> None:
    for zone in [*common_timezones()[::25], "UTC", "Europe/Berlin", "Asia/Kolkata"]:
        assert valid(timezone=zone).timezone == zone
