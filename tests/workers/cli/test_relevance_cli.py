"""`paperround feedback` and `paperround relevance train|evaluate`."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from pipeline.readers.interests import load_interests
from pipeline.readers.lifecycle import find
from tests.conftest import Store
from tests.pipeline.relevance.world import NOW, reader, seed_fields
from tests.workers.cli.conftest import Paperround


def _world(sessions: sessionmaker[Session]) -> dict[str, list[int]]:
    fields = seed_fields(sessions)
    reader(sessions, "reader1@example.org")
    return fields


def test_feedback_rates_changes_and_clears(paperround: Paperround, store: Store) -> None:
    _world(store.sessions)
    up = paperround("feedback", "reader1@example.org", "2611.00030", "--up", "--json")
    assert up.exit_code == 0, up.output
    data = json.loads(up.stdout)
    assert [(r["arxiv_id"], r["rating"], r["via"]) for r in data["ratings"]] == [
        ("2611.00030", "more", "cli")
    ]
    down = paperround(
        "feedback", "reader1@example.org", "https://arxiv.org/abs/2611.00030v2", "--down"
    )
    assert down.exit_code == 0 and "less like" in down.stdout and "1 rating(s)" in down.stdout
    cleared = paperround("feedback", "reader1@example.org", "2611.00030", "--clear", "--json")
    assert json.loads(cleared.stdout)["ratings"] == []


def test_feedback_errors_say_what_to_do(paperround: Paperround, store: Store) -> None:
    _world(store.sessions)
    nobody = paperround("feedback", "nobody@example.org", "2611.00001", "--up")
    assert nobody.exit_code == 1 and "subscribers list" in nobody.output
    missing = paperround("feedback", "reader1@example.org", "2799.99999", "--up")
    assert missing.exit_code == 1 and "papers list" in missing.output
    unsure = paperround("feedback", "reader1@example.org", "2611.00001")
    assert unsure.exit_code == 2 and "--up, --down or --clear" in unsure.output
    for result in (nobody, missing):
        assert len(result.output.strip().splitlines()) == 1  # one line, no traceback


def test_train_then_evaluate(paperround: Paperround, store: Store) -> None:
    fields = _world(store.sessions)
    empty = paperround("relevance", "evaluate")
    assert empty.exit_code == 0 and "collect more ratings" in empty.stdout
    papers = fields["genomics"][:6] + fields["nlp"][:1]
    for number, pid in enumerate(papers):
        vote = "--down" if pid in fields["nlp"] else "--up"
        arxiv = f"2611.{pid - min(min(v) for v in fields.values()):05d}"
        assert paperround("feedback", "reader1@example.org", arxiv, vote).exit_code == 0, number
    trained = paperround("relevance", "train", "--json")
    assert trained.exit_code == 0, trained.output
    report = json.loads(trained.stdout)
    assert (report["trained"], report["models"]) == (1, 1) and report["refitted_version"] == 1
    again = json.loads(paperround("relevance", "train", "--json").stdout)
    assert again["trained"] == 0  # nothing changed since
    split = (NOW + timedelta(days=400)).strftime("%Y-%m-%d")  # after every rating: nothing to test
    late = json.loads(paperround("relevance", "evaluate", "--json", "--split", split).stdout)
    assert late["readers"] == 0 and set(late["ndcg_at_10"]) == {"model", "trending", "keywords"}


def test_subscribers_add_and_update_take_interests(paperround: Paperround, store: Store) -> None:
    seed_fields(store.sessions)
    added = paperround(
        "subscribers", "add", "ann@example.org", "--confirmed",
        "--seed", "https://arxiv.org/abs/2611.00013v1", "--follow-author", "Ada Lovelace",
        "--exclude-keyword", "survey", "--relevance-weight", "90",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    with store.sessions() as session:
        ann = find(session, "ann@example.org")
        assert ann is not None
        interests = load_interests(session, ann.id)
    assert interests.seeds == ("2611.00013",) and interests.follow_authors == ("Ada Lovelace",)
    assert (interests.exclude_keywords, interests.relevance_weight) == (("survey",), 0.9)
    updated = paperround(
        "subscribers", "update", "ann@example.org", "--mute-author", "B. Smith",
        "--follow-author", "", "--min-score", "40", "--no-skip-empty",
    )  # fmt: skip
    assert updated.exit_code == 0, updated.output
    with store.sessions() as session:
        interests = load_interests(session, ann.id)
    assert interests.follow_authors == () and interests.mute_authors == ("B. Smith",)
    assert (interests.min_score, interests.skip_empty, interests.seeds) == (
        0.4,
        False,
        ("2611.00013",),
    )
    bad = paperround("subscribers", "update", "ann@example.org", "--seed", "not-a-paper")
    assert bad.exit_code == 1 and "not an arXiv id" in bad.output
    assert len(bad.output.strip().splitlines()) == 1
    nobody = paperround("subscribers", "update", "nobody@example.org", "--seed", "2611.00013")
    assert nobody.exit_code == 1 and "subscribers list" in nobody.output


def test_export_carries_the_readers_own_data(paperround: Paperround, store: Store) -> None:
    _world(store.sessions)
    assert paperround("feedback", "reader1@example.org", "2611.00003", "--up").exit_code == 0
    assert paperround("feedback", "reader1@example.org", "2611.00040", "--down").exit_code == 0
    assert (
        paperround("subscribers", "update", "reader1@example.org", "--seed", "2611.00007").exit_code
        == 0
    )
    exported = paperround("subscribers", "export")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    (row,) = rows
    assert (row["seeds"], row["liked"], row["disliked"]) == (
        "2611.00007",
        "2611.00003",
        "2611.00040",
    )
    assert row["skip_empty"] == "true" and row["relevance_weight"] == ""


def test_preview_json_explains_a_readers_selection(paperround: Paperround, store: Store) -> None:
    seed_fields(store.sessions, datetime.now(UTC) - timedelta(hours=2))  # today's window
    reader(store.sessions, "reader1@example.org")
    result = paperround("digest", "preview", "--for", "reader1@example.org", "--json")
    assert result.exit_code == 0, result.output
    picks = json.loads(result.stdout)
    assert len(picks) == 5  # their papers per digest (tests.support.world.add_readers)
    for pick in picks:
        assert {"arxiv_id", "title", "abstract", "score", "reasons"} <= set(pick)
        assert pick["reasons"] and all(isinstance(r, str) for r in pick["reasons"])
    scores = [p["score"] for p in picks]
    assert scores == sorted(scores, reverse=True)
    plain = paperround("digest", "preview", "--for", "reader1@example.org")
    assert plain.exit_code == 2 and "--out" in plain.output
    lonely = paperround("digest", "preview", "--json")
    assert lonely.exit_code == 2 and "--for" in lonely.output
