"""Papers as vectors: tf-idf over title and abstract, plus the paper's arXiv categories.

The vocabulary and inverse document frequencies are fitted on the store's recent papers
(`fit_vectorizer`), stored as a numbered version (pipeline/relevance/store.py) and kept
until no reader model uses them: a model is only ever applied to vectors of the version it
was trained on. Terms are words and two-word phrases (English stop words out, sublinear tf);
categories ("cs.LG", and the archive "cs") are a second block of features, weighted below
the text, so a reader who likes one paper in cs.LG is nudged toward cs.LG but led by words.
Every row is L2-normalized: a dot product of two rows is their cosine similarity.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

MAX_TERMS = 1 << 16
CATEGORY_WEIGHT = 0.35
NGRAMS = (1, 2)
FORMAT = 1  # of the stored bytes


@dataclass(frozen=True, slots=True)
class PaperText:
    """What relevance reads of a paper."""

    id: int
    title: str
    abstract: str
    categories: Sequence[str] = ()

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.abstract}"


def _category_names(categories: Sequence[str]) -> list[str]:
    names = dict.fromkeys(categories)
    names.update(dict.fromkeys(c.split(".")[0] for c in categories))
    return list(names)


@dataclass
class Vectorizer:
    """A fitted vocabulary: `transform` turns papers into rows of one feature space."""

    terms: list[str]
    idf: npt.NDArray[np.float32]
    categories: list[str]
    version: int | None = None
    _counter: CountVectorizer = field(init=False, repr=False)
    _category_index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._counter = CountVectorizer(
            vocabulary={term: i for i, term in enumerate(self.terms)},
            ngram_range=NGRAMS,
            stop_words="english",
            dtype=np.float32,
        )
        self._category_index = {name: i for i, name in enumerate(self.categories)}

    @property
    def width(self) -> int:
        return len(self.terms) + len(self.categories)

    def feature_name(self, index: int) -> str:
        if index < len(self.terms):
            return self.terms[index]
        return self.categories[index - len(self.terms)]

    def is_term(self, index: int) -> bool:
        return index < len(self.terms)

    def transform(self, papers: Sequence[PaperText]) -> sparse.csr_matrix:
        """One L2-normalized row per paper (float32, CSR)."""
        if not papers:
            return sparse.csr_matrix((0, self.width), dtype=np.float32)
        counts = self._counter.transform([p.text for p in papers]).tocsr()
        counts.data = (1.0 + np.log(counts.data)).astype(np.float32)
        text = _normalized(counts @ sparse.diags(self.idf, format="csr"))
        rows, cols = [], []
        for row, paper in enumerate(papers):
            for name in _category_names(paper.categories):
                column = self._category_index.get(name)
                if column is not None:
                    rows.append(row)
                    cols.append(column)
        cats = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)),
            shape=(len(papers), len(self.categories)),
        )
        combined = sparse.hstack([text, _normalized(cats) * CATEGORY_WEIGHT], format="csr")
        return _normalized(combined).astype(np.float32)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            meta=np.array([json.dumps({"format": FORMAT, "ngrams": list(NGRAMS)})]),
            terms=np.array(self.terms, dtype=np.str_),
            idf=self.idf.astype(np.float32),
            categories=np.array(self.categories, dtype=np.str_),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, version: int | None = None) -> Vectorizer:
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"][0]))
            if meta.get("format") != FORMAT:
                raise ValueError(f"vectorizer format {meta.get('format')} is not {FORMAT}")
            return cls(
                terms=[str(t) for t in stored["terms"]],
                idf=stored["idf"].astype(np.float32),
                categories=[str(c) for c in stored["categories"]],
                version=version,
            )


def _normalized(matrix: sparse.spmatrix) -> sparse.csr_matrix:
    matrix = sparse.csr_matrix(matrix, dtype=np.float32)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms) @ matrix, dtype=np.float32)


def fit_vectorizer(papers: Sequence[PaperText]) -> Vectorizer:
    """A vocabulary for these papers: terms in at least two of them (one, for a store of
    under 50 papers), in at most half, the MAX_TERMS most frequent."""
    if not papers:
        raise ValueError("no papers to fit a vocabulary on; ingest some first")
    fitter = TfidfVectorizer(
        ngram_range=NGRAMS,
        stop_words="english",
        sublinear_tf=True,
        min_df=2 if len(papers) >= 50 else 1,
        max_df=0.5 if len(papers) >= 50 else 1.0,
        max_features=MAX_TERMS,
        dtype=np.float32,
    )
    try:
        fitter.fit([p.text for p in papers])
    except ValueError as exc:  # every word a stop word, or pruned away
        raise ValueError(f"cannot fit a vocabulary: {exc}") from None
    categories = sorted({name for p in papers for name in _category_names(p.categories)})
    return Vectorizer(
        terms=[str(t) for t in fitter.get_feature_names_out()],
        idf=fitter.idf_.astype(np.float32),
        categories=categories,
    )
