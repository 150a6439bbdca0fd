"""Ratings, interests and reader models in the store: recording, training, the nightly job."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from pipeline.readers.feedback import (
    CLEAR,
    DOWN,
    UP,
    FeedbackError,
    paper_by_reference,
    rate,
    rating_of,
    ratings_of,
)
from pipeline.readers.interests import Interests, load_interests, save_interests, validate
from pipeline.readers.preferences import PreferenceError
from pipeline.relevance.evaluate import evaluate
from pipeline.relevance.model import LOGISTIC, PROTOTYPES
from pipeline.relevance.training import (
    Trainer,
    Vectorizers,
    load_models,
    refit_vectorizer,
    stale_readers,
    train_due,
)
from pipeline.store.db import write_transaction
from pipeline.store.models import Paper, Rating, RelevanceModel, RelevanceVectorizer, Subscriber
from pipeline.store.status import RatingVia, SubscriberStatus
from tests.conftest import Store
from tests.pipeline.relevance.world import NOW, get, reader, seed_fields


def _rate(store: Store, subscriber: Subscriber, paper_id: int, value: int, at=NOW) -> None:
    with write_transaction(store.sessions) as session:
        rate(session, get(session, Subscriber, subscriber.id), paper_id, value, RatingVia.CLI, at)


# --- ratings ---------------------------------------------------------------------------


def test_rating_again_replaces_and_clearing_removes(store: Store) -> None:
    fields = seed_fields(store.sessions)
    ann = reader(store.sessions, "reader1@example.org")
    paper = fields["nlp"][0]
    _rate(store, ann, paper, UP)
    _rate(store, ann, paper, DOWN, NOW + timedelta(minutes=1))
    with store.sessions() as session:
        assert rating_of(session, ann.id, paper) == DOWN
        (only,) = ratings_of(session, ann.id)
        assert (only.paper_id, only.value, only.via) == (paper, DOWN, RatingVia.CLI)
        assert session.scalar(select(func.count()).select_from(Rating)) == 1
    _rate(store, ann, paper, CLEAR)
    with store.sessions() as session:
        assert rating_of(session, ann.id, paper) == 0 and ratings_of(session, ann.id) == []


@pytest.mark.parametrize("status", [SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.PENDING])
def test_only_active_readers_rate_and_rating_never_changes_status(
    store: Store, status: SubscriberStatus
) -> None:
    fields = seed_fields(store.sessions)
    gone = reader(store.sessions, "reader2@example.org", status=str(status))
    with (
        write_transaction(store.sessions) as session,
        pytest.raises(FeedbackError, match=str(status)),
    ):
        rate(session, get(session, Subscriber, gone.id), fields["nlp"][0], UP, RatingVia.EMAIL)
    with store.sessions() as session:
        assert get(session, Subscriber, gone.id).status == status
        assert ratings_of(session, gone.id) == []


def test_a_rating_names_a_stored_paper(store: Store) -> None:
    seed_fields(store.sessions)
    ann = reader(store.sessions, "reader3@example.org")
    with (
        write_transaction(store.sessions) as session,
        pytest.raises(FeedbackError, match="no paper"),
    ):
        rate(session, get(session, Subscriber, ann.id), 999_999, UP, RatingVia.CLI)
    with store.sessions() as session:
        found = paper_by_reference(session, "https://arxiv.org/abs/2611.00003v2")
        assert found is not None and found.arxiv_id == "2611.00003"
        assert paper_by_reference(session, "arXiv:2611.00003") is not None
        assert paper_by_reference(session, "2699.99999") is None


def test_ratings_go_with_the_reader(store: Store) -> None:
    fields = seed_fields(store.sessions)
    ann = reader(store.sessions, "reader4@example.org")
    _rate(store, ann, fields["nlp"][0], UP)
    with write_transaction(store.sessions) as session:
        session.delete(get(session, Subscriber, ann.id))
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Rating)) == 0


# --- interests -------------------------------------------------------------------------


def test_interests_are_validated_and_kept() -> None:
    clean = validate(
        Interests(
            seeds=("https://arxiv.org/abs/2401.01234v3, arXiv:2402.00001", "hep-th/9901001"),
            follow_authors=("Yann LeCun; Y. LeCun", "  Ada   Lovelace "),
            exclude_keywords=("Survey",),
            relevance_weight=0.9,
        )
    )
    assert clean.seeds == ("2401.01234", "2402.00001", "hep-th/9901001")
    assert clean.follow_authors == ("Yann LeCun", "Ada Lovelace")  # one LeCun
    assert clean.exclude_keywords == ("survey",)
    for bad, field in [
        (Interests(seeds=("not-a-paper",)), "papers you like"),
        (Interests(follow_authors=("bad\x00name",)), "authors to follow"),
        (Interests(relevance_weight=1.5), "relevance weight"),
        (Interests(min_score=-0.1), "minimum score"),
    ]:
        with pytest.raises(PreferenceError, match=field):
            validate(bad)


def test_saving_seeds_marks_the_model_for_training(store: Store) -> None:
    seed_fields(store.sessions)
    ann = reader(store.sessions, "reader5@example.org")
    with write_transaction(store.sessions) as session:
        save_interests(session, ann.id, Interests(seeds=("2611.00013",)), NOW)
    with store.sessions() as session:
        assert load_interests(session, ann.id).seeds == ("2611.00013",)
        assert stale_readers(session) == [ann.id]


# --- training --------------------------------------------------------------------------


def test_a_few_ratings_train_a_model_and_only_new_feedback_trains_again(store: Store) -> None:
    fields = seed_fields(store.sessions)
    ann = reader(store.sessions, "reader6@example.org")
    for paper in fields["genomics"][:3]:
        _rate(store, ann, paper, UP)
    _rate(store, ann, fields["astro"][0], DOWN)
    with write_transaction(store.sessions) as session:
        assert stale_readers(session) == [ann.id]
        vectorizer = refit_vectorizer(session, NOW)
        trained = Trainer(session, vectorizer, NOW).train_readers([ann.id])
    model = trained[ann.id]
    assert model is not None and model.kind == LOGISTIC and model.ratings == 4
    assert model.prototype_ids[0] in fields["genomics"][:3]
    with store.sessions() as session:
        assert stale_readers(session) == []
        stored = load_models(session, [ann.id])[ann.id]
        assert stored.kind == LOGISTIC and list(stored.indices) == list(model.indices)
    _rate(store, ann, fields["genomics"][3], UP, NOW + timedelta(hours=1))
    with store.sessions() as session:
        assert stale_readers(session) == [ann.id]


def test_seeds_alone_give_prototypes_and_unknown_seeds_wait(store: Store) -> None:
    fields = seed_fields(store.sessions)
    ann = reader(store.sessions, "reader7@example.org")
    bob = reader(store.sessions, "reader8@example.org")
    with store.sessions() as session:
        astro_arxiv = str(get(session, Paper, fields["astro"][2]).arxiv_id)
    with write_transaction(store.sessions) as session:
        save_interests(session, ann.id, Interests(seeds=(astro_arxiv,)), NOW)
        save_interests(session, bob.id, Interests(seeds=("2799.00001",)), NOW)  # not ingested
        vectorizer = refit_vectorizer(session, NOW)
        trained = Trainer(session, vectorizer, NOW).train_readers([ann.id, bob.id])
    model = trained[ann.id]
    assert model is not None and model.kind == PROTOTYPES
    assert model.prototype_ids == [fields["astro"][2]]
    assert trained[bob.id] is None


def test_the_nightly_job_refits_trains_and_forgets_unused_vocabularies(store: Store) -> None:
    fields = seed_fields(store.sessions)
    ann = reader(store.sessions, "reader9@example.org")
    for paper in fields["probability"][:3]:
        _rate(store, ann, paper, UP)
    first = train_due(store.sessions, NOW)
    assert first.refitted is not None and (first.trained, first.models) == (1, 1)
    assert train_due(store.sessions, NOW + timedelta(hours=1)).trained == 0  # nothing new
    later = train_due(store.sessions, NOW + timedelta(days=1))  # a new vocabulary...
    assert later.refitted == first.refitted + 1
    assert later.trained == 1  # ...and the model on the old one trained on the new
    assert later.dropped_vocabularies == 1
    with store.sessions() as session:
        versions = list(session.scalars(select(RelevanceVectorizer.version)))
        assert versions == [later.refitted]
        assert session.scalar(select(RelevanceModel.vectorizer_version)) == later.refitted
        current = Vectorizers(session).current()
        assert current is not None and current.version == later.refitted


def test_evaluation_replays_ratings_and_beats_the_baselines_on_a_clear_taste(store: Store) -> None:
    fields = seed_fields(store.sessions)
    raters = [reader(store.sessions, f"reader{20 + n}@example.org") for n in range(4)]
    for n, (ann, field) in enumerate(
        zip(raters, ["genomics", "astro", "probability", "genomics"], strict=True)
    ):
        mine = fields[field]
        for k, paper in enumerate(mine[:8]):
            _rate(store, ann, paper, UP, NOW + timedelta(minutes=10 * k + n))
        _rate(store, ann, fields["nlp"][n], DOWN, NOW + timedelta(minutes=5))
    with store.sessions() as session:
        result = evaluate(session, split_at=NOW + timedelta(minutes=45))
    assert result.readers == 4 and result.ratings_test > 0
    assert result.ndcg["model"] > max(result.ndcg["trending"], result.ndcg["keywords"])
    assert result.auc["model"] > 0.8 > result.auc["trending"]
    ndcg = result.as_json()["ndcg_at_10"]
    assert isinstance(ndcg, dict) and set(ndcg) == {"model", "trending", "keywords"}


def test_weak_negatives_are_never_papers_listed_after_training_time(store: Store) -> None:
    earlier = seed_fields(store.sessions, NOW - timedelta(days=2), prefix="2610", half=0)
    later = seed_fields(store.sessions, NOW + timedelta(days=2), prefix="2612", half=1)
    with store.sessions() as session:
        vectorizer = Vectorizers(session).current_or_fit(NOW + timedelta(days=3))
        pool = set(Trainer(session, vectorizer, NOW)._negatives().ids)
    assert pool == {pid for ids in earlier.values() for pid in ids}
    assert pool.isdisjoint(pid for ids in later.values() for pid in ids)
