"""Golden files: sources as they are in the wild, each parsed whole and compared exactly.

Every fixture in tests/fixtures/golden/ sits beside the records it must parse to
(`<name>.expected.json`), the way lemon24/reader keeps `full.rss` beside `full.rss.py`. The
expected file also holds the input context (`url`, optional `content_type`): an arXiv listing's
URL names the category its cross-lists join. PAPERROUND_REGENERATE_GOLDEN=1 rewrites the
outputs from the code and fails, so a regenerate run never passes; a regenerated file captures
the code's bugs too, so every changed value is read by hand before it is committed.

The invariants at the end say in words what the golden files say in values.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.ingest.entry import PaperEntry, ParseResult
from pipeline.ingest.formats import parse_body
from pipeline.ingest.twins import same_authors, title_key
from tests.conftest import FIXTURES

GOLDEN = FIXTURES / "golden"
EXPECTED = ".expected.json"
REGENERATE = os.environ.get("PAPERROUND_REGENERATE_GOLDEN") == "1"
NOT_FIXTURES = frozenset({"README.md"})
CONTEXT = ("url", "content_type")  # inputs, kept when regenerating

# Fixtures by what they are, for the invariants.
ARXIV_RSS = "arxiv_rss_cs_lg_2024.xml"
AGGREGATOR = "aggregator_trending.xml"
ARXIV_FIXTURES = (
    ARXIV_RSS,
    "arxiv_rss_weekend_empty.xml",
    "arxiv_rdf_math_pr_2012.xml",
    "arxiv_atom_2018.xml",
    "arxiv_atom_2026.xml",
    "hf_daily_2024-05-16.json",
    "hf_daily_2026-03-18_morning.json",
    "hf_daily_2026-03-18_evening.json",
)
LINKING_ARXIV = (AGGREGATOR, "generic_mirror_links.xml")  # feeds pointing at arXiv papers
VERSIONED_DOIS = (
    "chemrxiv_catalysis.xml",
    "biorxiv_details_page0.json",
    "medrxiv_details_last_page.json",
)

# An arXiv id as a reader would spot one, written independently of identifiers.py: new style
# (YYMM.NNNNN) or old style (archive[.CLASS]/YYMMNNN), with an optional version.
ARXIV_LOOKING = re.compile(
    r"(?<!\w)(?<!\d\.)(?P<id>\d{4}\.\d{4,5}|[a-z]+(?:-[a-z]+)?(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?(?!\d)"
)


def fixture_names() -> list[str]:
    return sorted(
        path.name
        for path in GOLDEN.iterdir()
        if path.is_file() and not path.name.endswith(EXPECTED) and path.name not in NOT_FIXTURES
    )


def expected_path(name: str) -> Path:
    return GOLDEN / (name.rsplit(".", 1)[0] + EXPECTED)


def as_json(value: object) -> Any:
    """Datetimes as ISO strings, tuples as lists, mappings as objects."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [as_json(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): as_json(item) for key, item in value.items()}
    return value


def entry_json(entry: PaperEntry) -> dict[str, Any]:
    return {field.name: as_json(getattr(entry, field.name)) for field in fields(PaperEntry)}


def outputs(kind: str, result: ParseResult) -> dict[str, Any]:
    return {
        "kind": kind,
        "feed_title": result.feed_title,
        "next_url": result.next_url,
        "entries": [entry_json(entry) for entry in result.entries],
        "skipped": [[skip.position, skip.reason] for skip in result.skipped],
    }


def load_expected(name: str) -> dict[str, Any]:
    path = expected_path(name)
    if not path.exists():
        pytest.fail(
            f"{name} has no {path.name}: write one holding its input context, "
            f'{{"url": "..."}}, then run with PAPERROUND_REGENERATE_GOLDEN=1'
        )
    expected: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(expected.get("url"), str):
        pytest.fail(f'{path.name} has no "url" to parse {name} with')
    return expected


def parse_fixture(name: str) -> tuple[str, ParseResult]:
    expected = load_expected(name)
    body = (GOLDEN / name).read_bytes()
    return parse_body(None, body, expected["url"], expected.get("content_type"))


def entries_of(name: str) -> list[PaperEntry]:
    return parse_fixture(name)[1].entries


FIXTURE_NAMES = fixture_names()


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_golden(name: str) -> None:
    expected = load_expected(name)
    actual = outputs(*parse_fixture(name))
    if REGENERATE:
        context = {key: expected[key] for key in CONTEXT if key in expected}
        text = json.dumps({**context, **actual}, indent=2, ensure_ascii=False) + "\n"
        expected_path(name).write_text(text, encoding="utf-8")
        pytest.fail(
            f"regenerated {expected_path(name).name}: read every value against {name}, "
            "then run again without PAPERROUND_REGENERATE_GOLDEN"
        )
    wanted = {key: value for key, value in expected.items() if key not in CONTEXT}
    assert actual == wanted


def test_every_fixture_has_its_expected_file_and_every_expected_file_its_fixture() -> None:
    stems = {name.rsplit(".", 1)[0]: name for name in FIXTURE_NAMES}
    assert len(stems) == len(FIXTURE_NAMES), "two fixtures share a name"
    without_expected = [name for name in FIXTURE_NAMES if not expected_path(name).exists()]
    orphans = sorted(
        path.name
        for path in GOLDEN.glob(f"*{EXPECTED}")
        if path.name.removesuffix(EXPECTED) not in stems
    )
    assert (without_expected, orphans) == ([], [])


def test_the_invariants_name_real_fixtures() -> None:
    named = {ARXIV_RSS, AGGREGATOR, *ARXIV_FIXTURES, *LINKING_ARXIV, *VERSIONED_DOIS}
    assert named <= set(FIXTURE_NAMES)


# --- invariants over the whole golden set --------------------------------------------------


def folded_arxiv_id(text: str) -> str:
    """An id as ARXIV_LOOKING found it, without version or subject class ("math.GT/0309136")."""
    return re.sub(r"\.[A-Z]{2}/", "/", text).lower()


@pytest.mark.parametrize("name", (*ARXIV_FIXTURES, *LINKING_ARXIV))
def test_every_arxiv_id_in_an_arxiv_or_aggregator_fixture_is_recognized(name: str) -> None:
    body = (GOLDEN / name).read_text(encoding="utf-8")
    written = {folded_arxiv_id(found["id"]) for found in ARXIV_LOOKING.finditer(body)}
    entries = entries_of(name)
    assert written <= {entry.arxiv_id for entry in entries}
    for entry in entries:
        if entry.arxiv_id is not None:
            assert entry.key == f"arxiv:{entry.arxiv_id}"
            assert entry.links["abs"] == f"https://arxiv.org/abs/{entry.arxiv_id}"


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_no_entry_is_keyed_by_a_link_that_holds_an_arxiv_id(name: str) -> None:
    for entry in entries_of(name):
        if entry.key.startswith("url:"):
            for text in (entry.key, entry.external_id, *entry.links.values()):
                assert ARXIV_LOOKING.search(text) is None, (entry.key, text)


@pytest.mark.parametrize("name", ARXIV_FIXTURES)
def test_arxiv_sources_key_every_entry_by_its_arxiv_id(name: str) -> None:
    for entry in entries_of(name):
        assert entry.arxiv_id is not None and entry.key == f"arxiv:{entry.arxiv_id}"
        # arXiv-native formats know the version; Hugging Face lists the paper without one
        assert entry.version is not None or name.startswith("hf_daily")


@pytest.mark.parametrize("name", VERSIONED_DOIS)
def test_versions_of_a_preprint_fold_into_one_key(name: str) -> None:
    versions: dict[str, list[int | None]] = defaultdict(list)
    for entry in entries_of(name):
        assert entry.doi is not None and entry.key == f"doi:{entry.doi}"
        assert re.search(r"[-./_]v\d+$|^10\.1101/[\d.]+v\d+$", entry.doi) is None, entry.doi
        assert entry.version is not None
        versions[entry.key].append(entry.version)
    folded = {key: found for key, found in versions.items() if len(found) > 1}
    assert folded, f"{name} has no preprint in several versions"
    for key, found in folded.items():
        assert len(set(found)) == len(found), (key, found)


def test_the_older_rdf_titles_lose_their_arxiv_suffix() -> None:
    entries = entries_of("arxiv_rdf_math_pr_2012.xml")
    for entry in entries:
        assert "arXiv:" not in entry.title and not entry.title.endswith("."), entry.title
        assert re.search(r"\[[\w.-]+\]|UPDATED|CROSS LISTED", entry.title) is None, entry.title
        assert "\n" not in entry.title and "  " not in entry.title
    assert {entry.announce_type for entry in entries} == {"new", "replace", "cross"}


def test_the_aggregator_points_at_the_papers_of_the_arxiv_listing() -> None:
    listing = {entry.key: entry for entry in entries_of(ARXIV_RSS)}
    linked = [entry for entry in entries_of(AGGREGATOR) if entry.arxiv_id is not None]
    assert len(linked) >= 5
    assert {entry.key for entry in linked} <= set(listing)
    # the lab blog post names no id: its key is its link, and only its title (case,
    # punctuation and line wrap aside) and its author tie it to one paper of the listing
    (post,) = [entry for entry in entries_of(AGGREGATOR) if entry.arxiv_id is None]
    assert post.key.startswith("url:")
    twins = [
        paper
        for paper in listing.values()
        if title_key(paper.title) == title_key(post.title)
        and same_authors(paper.authors, post.authors)
    ]
    assert [paper.key for paper in twins] == ["arxiv:2405.09307"]
    assert post.title != twins[0].title


def test_the_evening_capture_of_a_day_grows_on_the_morning_one() -> None:
    morning = {e.key: e for e in entries_of("hf_daily_2026-03-18_morning.json")}
    evening = {e.key: e for e in entries_of("hf_daily_2026-03-18_evening.json")}
    assert set(morning) < set(evening)
    for key, early in morning.items():
        late = evening[key]
        assert (late.title, late.published_at, late.featured_at) == (
            early.title,
            early.published_at,
            early.featured_at,
        )
        assert (late.upvotes or 0) > (early.upvotes or 0)
    days = {e.featured_at.date() for e in evening.values() if e.featured_at is not None}
    assert len(days) == 1
