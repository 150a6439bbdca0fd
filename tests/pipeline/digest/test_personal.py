"""Personal digests end to end in the store: ratings lead the selection, every card says why,
follows, mutes and exclusions hold, nothing rated or sent comes back, and the message
carries each reader's feedback links."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from pipeline.delivery.ledger import claim_batch
from pipeline.digest.compose import SegmentExtras
from pipeline.digest.planning import explain_selection, plan_edition
from pipeline.digest.preview import message_parts
from pipeline.readers.feedback import DOWN, UP, rate
from pipeline.readers.interests import Interests, save_interests
from pipeline.store.db import write_transaction
from pipeline.store.models import Delivery, Edition, Paper, Segment, Subscriber
from pipeline.store.status import RatingVia
from pipeline.wiring import Wiring
from tests.conftest import Store
from tests.pipeline.relevance.world import NOW, get, reader, seed_fields
from tests.support.world import settings_for

WINDOW = NOW - timedelta(hours=2)
EARLIER = NOW - timedelta(days=3)


def _world(store: Store) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Last week's papers (rated) and today's (the window): the same four fields."""
    old = seed_fields(store.sessions, EARLIER, prefix="2610", half=0)
    new = seed_fields(store.sessions, WINDOW, prefix="2611", half=1)
    return old, new


def _selection(store: Store, subscriber: Subscriber) -> Segment | None:
    with store.sessions() as session:
        return session.scalar(
            select(Segment)
            .join(Delivery, Delivery.segment_id == Segment.id)
            .where(Delivery.subscriber_id == subscriber.id)
        )


def _fields_of(store: Store, paper_ids: list[int], new: dict[str, list[int]]) -> list[str]:
    field_of = {pid: field for field, ids in new.items() for pid in ids}
    return [field_of[pid] for pid in paper_ids]


def _rate(store: Store, subscriber: Subscriber, paper_id: int, value: int) -> None:
    with write_transaction(store.sessions) as session:
        rate(
            session,
            get(session, Subscriber, subscriber.id),
            paper_id,
            value,
            RatingVia.EMAIL,
            EARLIER,
        )


def _plan(store: Store) -> None:
    with write_transaction(store.sessions) as session:
        plan_edition(session, now=NOW)


def test_a_reader_who_rated_a_handful_gets_their_field_first_with_reasons(store: Store) -> None:
    old, new = _world(store)
    rater = reader(store.sessions, "reader1@example.org")
    crowd = reader(store.sessions, "reader2@example.org")
    for paper in old["genomics"][:4]:
        _rate(store, rater, paper, UP)
    _rate(store, rater, old["nlp"][0], DOWN)
    _plan(store)
    mine, theirs = _selection(store, rater), _selection(store, crowd)
    assert mine is not None and theirs is not None
    assert mine.reasons is not None and theirs.reasons is not None
    fields = _fields_of(store, mine.paper_ids, new)
    # led by their field: six of today's 24 papers are genomics, none of them was rated
    assert fields[:3] == ["genomics"] * 3 and fields.count("genomics") >= 4, fields
    assert _fields_of(store, theirs.paper_ids, new) == ["nlp"] * 5  # trending alone
    assert all(mine.reasons[i] for i in range(5)) and all(theirs.reasons[i] for i in range(5))
    said = [r for card in mine.reasons for r in card]
    assert any(r.startswith('similar to "') and r.endswith('", which you liked') for r in said)
    assert any(r.startswith("about ") for r in said)
    assert all(r.startswith("trending: ") for card in theirs.reasons for r in card)


def test_follows_come_first_and_mutes_and_exclusions_hold(store: Store) -> None:
    _, new = _world(store)
    fan = reader(store.sessions, "reader3@example.org", categories=["astro-ph"])
    picky = reader(store.sessions, "reader4@example.org", categories=["astro-ph"])
    with store.sessions() as session:
        authors = dict(session.execute(select(Paper.id, Paper.authors)).tuples().all())
    genomic = new["genomics"][5]
    followed = authors[genomic][0]  # "F. Surname<i>": a genomics paper's author
    first_astro = new["astro"][0]
    with write_transaction(store.sessions) as session:
        save_interests(session, fan.id, Interests(follow_authors=(followed,)), NOW)
        save_interests(
            session,
            picky.id,
            Interests(exclude_keywords=("dark matter",), mute_authors=(authors[first_astro][0],)),
            NOW,
        )
    _plan(store)
    fans = _selection(store, fan)
    assert fans is not None and fans.reasons is not None
    assert fans.paper_ids[0] == genomic  # outside their categories, first
    assert fans.followed == [0] and fans.reasons[0][0] == f"you follow {followed}"
    assert set(_fields_of(store, fans.paper_ids[1:], new)) == {"astro"}
    picks = _selection(store, picky)
    assert picks is not None and first_astro not in picks.paper_ids
    with store.sessions() as session:
        titles = session.scalars(select(Paper.abstract).where(Paper.id.in_(picks.paper_ids)))
        assert not [t for t in titles if "dark matter" in t.lower()]


def test_nothing_rated_comes_back_and_a_high_bar_skips_the_email(store: Store) -> None:
    _, new = _world(store)
    ann = reader(store.sessions, "reader5@example.org")
    strict = reader(store.sessions, "reader6@example.org", keywords=["supernova"])
    top = new["nlp"][0]
    _rate(store, ann, top, DOWN)
    with write_transaction(store.sessions) as session:
        save_interests(session, strict.id, Interests(min_score=0.99), NOW)
    _plan(store)
    picks = _selection(store, ann)
    assert picks is not None and top not in picks.paper_ids
    assert _selection(store, strict) is None  # nothing clears the bar: no email at all


def test_planning_again_adds_no_one_and_history_excludes_sent_papers(store: Store) -> None:
    _world(store)
    ann = reader(store.sessions, "reader7@example.org", papers_per_digest=3)
    with write_transaction(store.sessions) as session:
        first = plan_edition(session, now=NOW)
    with write_transaction(store.sessions) as session:
        again = plan_edition(session, now=NOW + timedelta(minutes=5))
    assert (first.deliveries, again.deliveries, again.readers) == (1, 0, 0)
    today = _selection(store, ann)
    assert today is not None
    with write_transaction(store.sessions) as session:
        session.execute(update(Delivery).values(status="sent"))
        tomorrow = plan_edition(session, now=NOW + timedelta(days=1))
    assert tomorrow.deliveries == 0  # yesterday's window, all of it sent or older: no repeats


def test_a_paper_listed_again_goes_only_to_readers_who_did_not_get_it(store: Store) -> None:
    _, new = _world(store)
    ann = reader(store.sessions, "reader7@example.org", papers_per_digest=3)
    with write_transaction(store.sessions) as session:
        plan_edition(session, now=NOW)
        session.execute(update(Delivery).values(status="sent"))
    got = _selection(store, ann)
    assert got is not None and len(got.paper_ids) == 3
    bob = reader(store.sessions, "reader8@example.org", papers_per_digest=3)
    relisted = NOW + timedelta(hours=20)  # a new version: in tomorrow's window again
    everything = [pid for ids in new.values() for pid in ids]
    with write_transaction(store.sessions) as session:
        session.execute(update(Paper).where(Paper.id.in_(everything)).values(listed_at=relisted))
        tomorrow = plan_edition(session, now=NOW + timedelta(days=1))
    assert tomorrow.deliveries == 2
    with store.sessions() as session:
        picked = dict(
            session.execute(
                select(Delivery.subscriber_id, Segment.paper_ids)
                .join(Segment, Segment.id == Delivery.segment_id)
                .where(Delivery.edition_id == tomorrow.edition_id)
            )
            .tuples()
            .all()
        )
    assert set(picked[ann.id]).isdisjoint(got.paper_ids)
    assert set(got.paper_ids) <= set(picked[bob.id])  # the best are still the best for Bob


def _planned_fan(store: Store) -> tuple[Subscriber, str]:
    """A reader of astro-ph who follows a genomics author, planned into today's edition."""
    _, new = _world(store)
    fan = reader(store.sessions, "reader8@example.org", categories=["astro-ph"])
    with store.sessions() as session:
        followed = get(session, Paper, new["genomics"][5]).authors[0]
    with write_transaction(store.sessions) as session:
        save_interests(session, fan.id, Interests(follow_authors=(followed,)), NOW)
    _plan(store)
    return fan, followed


def test_the_message_carries_reasons_sections_and_each_readers_feedback_links(
    store: Store, tmp_path: Path
) -> None:
    fan, followed = _planned_fan(store)
    wiring = Wiring(settings_for(tmp_path, store.url), store.sessions)
    composer = wiring.composer()
    segment = _selection(store, fan)
    assert segment is not None
    with store.sessions() as session:
        subscriber = get(session, Subscriber, fan.id)
        links = composer.reader_links(
            subscriber.link_id, subscriber.token_version, segment.edition_id, segment.paper_ids
        )
    message = composer.message_for(
        segment.edition_id,
        [str(p) for p in segment.paper_ids],
        subscriber.email,
        links,
        "<x@papers.example.org>",
        extras=composer.extras(segment.id),
    )
    html, text, _subject = message_parts(message)
    assert "From authors you follow" in html and "More papers for you" in html
    assert "== From authors you follow ==" in text
    assert html.count("Why: ") == len(segment.paper_ids) == text.count("Why: ")
    assert f"you follow {followed}" in text
    for number, paper_id in enumerate(segment.paper_ids, start=1):
        url = links.feedback_urls[number - 1]
        assert f'href="{url}/more"' in html and f"{url}/less" in text
        claims = wiring.signer.check_feedback(url.rsplit("/", 1)[1])
        assert (claims.link_id, claims.paper_id) == (subscriber.link_id, paper_id)
    assert "PRx" not in html + text
    # an archive view of the same segment: reasons, but no one's feedback links
    reasonless = composer.message_for(
        segment.edition_id,
        [str(p) for p in segment.paper_ids],
        subscriber.email,
        composer.reader_links(subscriber.link_id, subscriber.token_version, segment.edition_id),
        "<y@papers.example.org>",
        extras=SegmentExtras(),
    )
    assert b"/feedback/" not in reasonless and b"PRx" not in reasonless


def test_a_claim_carries_its_segments_reasons_and_the_message_is_the_same(
    store: Store, tmp_path: Path
) -> None:
    fan, _followed = _planned_fan(store)
    segment = _selection(store, fan)
    assert segment is not None
    (claimed,) = claim_batch(store.sessions, segment.edition_id, "sender-a", 5, NOW)
    assert claimed.segment_notes == (segment.reasons, segment.followed)
    wiring = Wiring(settings_for(tmp_path, store.url), store.sessions)
    from_claim = wiring.composer().extras_for(claimed)
    from_store = wiring.composer().extras(segment.id)
    assert from_claim == from_store and from_claim != SegmentExtras()


def test_explaining_a_readers_selection_matches_what_planning_picked(store: Store) -> None:
    old, _new = _world(store)
    rater = reader(store.sessions, "reader9@example.org")
    for paper in old["probability"][:3]:
        _rate(store, rater, paper, UP)
    _plan(store)
    segment = _selection(store, rater)
    assert segment is not None
    with store.sessions() as session:
        edition = get(session, Edition, segment.edition_id)
        explained = explain_selection(session, edition, rater.id)
    assert [p.paper.id for p in explained] == segment.paper_ids
    assert [list(p.reasons) for p in explained] == segment.reasons
    scores = [p.score for p in explained]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    first = explained[0].as_json()
    assert {"arxiv_id", "title", "abstract", "score", "reasons"} <= set(first)
    reasons = first["reasons"]
    assert isinstance(reasons, list) and reasons and all(isinstance(r, str) for r in reasons)
