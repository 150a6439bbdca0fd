"""pipeline.relevance: vectors, a reader's model, relevance for many readers at once."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from pipeline.relevance.evaluate import auc, ndcg_at
from pipeline.relevance.features import PaperText, Vectorizer, fit_vectorizer
from pipeline.relevance.model import (
    LOGISTIC,
    MIN_RATINGS,
    PROTOTYPES,
    ReaderModel,
    closest_prototype,
    relevance_matrix,
    train,
)
from tests.pipeline.relevance.corpus import TOPICS, Labeled, abstracts, planted


def _fitted(papers: list[Labeled]) -> Vectorizer:
    vectorizer = fit_vectorizer([p.paper for p in papers])
    vectorizer.version = 1
    return vectorizer


def _model(
    vectorizer: Vectorizer, liked: list[Labeled], disliked: list[Labeled], unrated: list[Labeled]
) -> ReaderModel:
    return train(
        vectorizer,
        vectorizer.transform([p.paper for p in liked]),
        [p.paper.id for p in liked],
        vectorizer.transform([p.paper for p in disliked]),
        vectorizer.transform([p.paper for p in unrated]),
        ratings=len(liked) + len(disliked),
    )


def _ranking(vectorizer: Vectorizer, model: ReaderModel, papers: list[Labeled]) -> list[Labeled]:
    scores = relevance_matrix(vectorizer.transform([p.paper for p in papers]), [model])[:, 0]
    return [papers[i] for i in np.argsort(-scores, kind="stable")]


# --- vectors ---------------------------------------------------------------------------


def test_rows_are_unit_vectors_with_a_category_block() -> None:
    papers = abstracts()
    vectorizer = _fitted(papers)
    matrix = vectorizer.transform([p.paper for p in papers])
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    assert np.allclose(norms, 1.0, atol=1e-5)
    assert {"cs.CL", "cs", "astro-ph.GA", "astro-ph", "math.PR"} <= set(vectorizer.categories)
    column = len(vectorizer.terms) + vectorizer.categories.index("cs.CL")
    assert matrix[0, column] > 0  # the first paper is in cs.CL
    assert vectorizer.feature_name(column) == "cs.CL" and not vectorizer.is_term(column)


def test_a_stored_vocabulary_gives_the_same_vectors() -> None:
    papers = abstracts()
    vectorizer = _fitted(papers)
    again = Vectorizer.from_bytes(vectorizer.to_bytes(), version=7)
    texts = [p.paper for p in papers]
    assert again.version == 7 and again.terms == vectorizer.terms
    assert abs(again.transform(texts) - vectorizer.transform(texts)).max() < 1e-6


def test_unknown_words_and_empty_input() -> None:
    vectorizer = _fitted(abstracts())
    blank = vectorizer.transform([PaperText(1, "zzzq qqqz", "", ())])
    assert blank.nnz == 0 and blank.shape == (1, vectorizer.width)
    assert vectorizer.transform([]).shape == (0, vectorizer.width)
    with pytest.raises(ValueError, match="ingest some first"):
        fit_vectorizer([])
    with pytest.raises(ValueError, match="cannot fit a vocabulary"):
        fit_vectorizer([PaperText(1, "the and of", "", ())])


# --- a reader's model ------------------------------------------------------------------


def test_a_handful_of_ratings_ranks_the_raters_field_first_on_planted_topics() -> None:
    corpus = planted()
    vectorizer = _fitted(corpus)
    graphs = [p for p in corpus if p.field == "graphs"]
    vision = [p for p in corpus if p.field == "vision"]
    liked, disliked = graphs[:4], vision[:2]
    unrated = [p for p in corpus if p not in liked and p not in disliked][:40]
    model = _model(vectorizer, liked, disliked, unrated)
    assert model.kind == LOGISTIC
    rest = [p for p in corpus if p not in liked and p not in disliked]
    ranked = _ranking(vectorizer, model, rest)
    assert [p.field for p in ranked[:20]] == ["graphs"] * 20
    scores = relevance_matrix(vectorizer.transform([p.paper for p in rest]), [model])[:, 0]
    assert auc(list(scores), [p.field == "graphs" for p in rest]) > 0.97


@pytest.mark.parametrize("field", ["nlp", "astro", "genomics", "probability"])
def test_real_looking_abstracts_rank_the_raters_field_above_the_others(field: str) -> None:
    corpus = abstracts()
    vectorizer = _fitted(corpus)
    mine = [p for p in corpus if p.field == field]
    others = [p for p in corpus if p.field != field]
    liked, disliked = mine[:3], others[:1]
    model = _model(vectorizer, liked, disliked, others[1:13])
    rest = [p for p in corpus if p not in liked and p not in disliked]
    ranked = _ranking(vectorizer, model, rest)
    relevant = [p.field == field for p in ranked]
    assert sum(relevant[:9]) >= 7, [(p.field, p.paper.title) for p in ranked[:9]]
    assert ndcg_at(relevant) > 0.8


def test_before_a_few_ratings_a_reader_has_prototypes() -> None:
    corpus = abstracts()
    vectorizer = _fitted(corpus)
    seed = next(p for p in corpus if p.field == "astro")
    model = _model(vectorizer, [seed], [], corpus[:5])
    assert MIN_RATINGS > 1 and model.kind == PROTOTYPES
    rest = [p for p in corpus if p is not seed]
    ranked = _ranking(vectorizer, model, rest)
    assert sum(p.field == "astro" for p in ranked[:5]) >= 4
    row = vectorizer.transform([ranked[0].paper])
    closest = closest_prototype(model, row)
    assert closest is not None and closest[0] == seed.paper.id and 0 < closest[1] <= 1.0001


def test_the_reasons_words_come_from_the_paper_and_the_reader() -> None:
    corpus = planted()
    vectorizer = _fitted(corpus)
    graphs = [p for p in corpus if p.field == "graphs"]
    model = _model(vectorizer, graphs[:5], [], [p for p in corpus if p.field != "graphs"][:30])
    paper = graphs[10].paper
    terms = model.top_terms(vectorizer.transform([paper]), vectorizer)
    assert terms and set(" ".join(terms).split()) <= set(TOPICS["graphs"].split())


def test_a_stored_model_scores_alike() -> None:
    corpus = planted()
    vectorizer = _fitted(corpus)
    model = _model(vectorizer, corpus[:4], corpus[4:6], corpus[6:40])
    again = ReaderModel.from_bytes(model.to_bytes(), 1, model.ratings, model.prototype_ids)
    matrix = vectorizer.transform([p.paper for p in corpus])
    assert np.allclose(relevance_matrix(matrix, [model]), relevance_matrix(matrix, [again]))
    assert again.kind == model.kind and again.prototype_ids == model.prototype_ids


def test_many_readers_at_once_score_as_each_alone() -> None:
    corpus = planted()
    vectorizer = _fitted(corpus)
    models = [
        _model(vectorizer, corpus[i : i + 4], corpus[i + 4 : i + 6], corpus[100:140])
        for i in range(0, 40, 8)
    ]
    models.append(_model(vectorizer, corpus[50:51], [], corpus[100:110]))  # prototypes
    matrix = vectorizer.transform([p.paper for p in corpus])
    together = relevance_matrix(matrix, models)
    for column, model in enumerate(models):
        assert np.allclose(together[:, column], relevance_matrix(matrix, [model])[:, 0])
    assert together.min() >= 0 and together.max() <= 1


def test_weights_stay_sparse() -> None:
    corpus = planted(per_topic=200)
    vectorizer = _fitted(corpus)
    model = _model(vectorizer, corpus[:30], corpus[30:50], corpus[50:200])
    assert 0 < len(model.indices) <= 3000
    assert isinstance(model.prototypes, sparse.csr_matrix)
    assert model.prototypes.shape[0] <= 20
