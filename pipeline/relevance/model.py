"""One reader's relevance model, and relevance for many readers at once.

A reader with at least MIN_RATINGS ratings gets a logistic regression over paper vectors
(pipeline/relevance/features.py): papers they rated up (and the papers they named as seeds)
against papers they rated down, plus a sample of recent papers they did not rate as weak
negatives (weighted WEAK_WEIGHT each: unrated is not disliked, only less likely liked).
Before that, a reader with seeds or a first like gets "prototypes": relevance is the cosine
similarity to the closest paper they gave. Both keep their prototypes, which is what a
"similar to <a paper you liked>" reason points at.

The weights are sparse (the MAX_WEIGHTS largest), so 20,000 models are a few hundred MB at
most and scoring them is one sparse product per batch of readers (`relevance_matrix`).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from pipeline.relevance.features import Vectorizer

LOGISTIC, PROTOTYPES = "logistic", "prototypes"
MIN_RATINGS = 3
MAX_WEIGHTS = 3000
MAX_PROTOTYPES = 20
PROTOTYPE_TERMS = 60  # of a prototype's vector, enough for cosine and reasons
WEAK_WEIGHT = 0.2
MODEL_FORMAT = 2
REGULARIZATION = 4.0  # liblinear's C: few examples, so keep the weights modest

Floats = npt.NDArray[np.float32]


@dataclass
class ReaderModel:
    kind: str
    vectorizer_version: int
    ratings: int
    indices: npt.NDArray[np.int32]
    weights: Floats
    intercept: float
    prototypes: sparse.csr_matrix  # one pruned, normalized row per prototype
    prototype_ids: list[int]

    def to_bytes(self) -> bytes:
        """A small header and the raw arrays: reading 20,000 models back must cost
        microseconds each (an npz archive costs milliseconds)."""
        p = self.prototypes
        arrays = [
            self.indices.astype("<i4"),
            self.weights.astype("<f4"),
            p.data.astype("<f4"),
            p.indices.astype("<i4"),
            p.indptr.astype("<i4"),
        ]
        header = json.dumps(
            {
                "format": MODEL_FORMAT,
                "kind": self.kind,
                "intercept": self.intercept,
                "shape": list(p.shape),
                "lengths": [len(a) for a in arrays],
            }
        ).encode()
        return b"".join([struct.pack("<I", len(header)), header, *(a.tobytes() for a in arrays)])

    @classmethod
    def from_bytes(
        cls, data: bytes, vectorizer_version: int, ratings: int, prototype_ids: Sequence[int]
    ) -> ReaderModel:
        (size,) = struct.unpack_from("<I", data)
        meta = json.loads(data[4 : 4 + size])
        if meta.get("format") != MODEL_FORMAT:
            raise ValueError(f"reader model format {meta.get('format')} is not {MODEL_FORMAT}")
        offset = 4 + size
        arrays = []
        for kind, length in zip(("<i4", "<f4", "<f4", "<i4", "<i4"), meta["lengths"], strict=True):
            arrays.append(np.frombuffer(data, dtype=kind, count=length, offset=offset))
            offset += 4 * length
        indices, weights, p_data, p_indices, p_indptr = arrays
        prototypes = sparse.csr_matrix(
            (p_data, p_indices, p_indptr), shape=tuple(meta["shape"]), copy=False
        )
        return cls(
            kind=str(meta["kind"]),
            vectorizer_version=vectorizer_version,
            ratings=ratings,
            indices=indices.astype(np.int32),
            weights=weights.astype(np.float32),
            intercept=float(meta["intercept"]),
            prototypes=prototypes,
            prototype_ids=list(prototype_ids),
        )

    def top_terms_of_rows(
        self, rows: sparse.csr_matrix, vectorizer: Vectorizer, n: int = 3
    ) -> list[list[str]]:
        """`top_terms` for many papers at once: one elementwise product, then each row."""
        if self.kind != LOGISTIC or not len(self.indices):
            return [[] for _ in range(rows.shape[0])]
        weights = sparse.csr_matrix(
            (self.weights, (np.zeros(len(self.indices), dtype=np.int32), self.indices)),
            shape=(1, rows.shape[1]),
        )
        contributions = sparse.csr_matrix(rows.multiply(weights))
        result = []
        for k in range(contributions.shape[0]):
            start, end = contributions.indptr[k], contributions.indptr[k + 1]
            values = contributions.data[start:end]
            columns = contributions.indices[start:end]
            ranked = np.argsort(-values, kind="stable")
            result.append(self._distinct_terms(values, columns, ranked, vectorizer, n))
        return result

    @staticmethod
    def _distinct_terms(
        values: npt.NDArray[np.float32],
        columns: npt.NDArray[np.int32],
        ranked: npt.NDArray[np.intp],
        vectorizer: Vectorizer,
        n: int,
    ) -> list[str]:
        chosen: list[str] = []
        for i in ranked:
            if values[i] <= 0 or not vectorizer.is_term(int(columns[i])):
                continue
            term = vectorizer.feature_name(int(columns[i]))
            words = set(term.split())
            if any(words & set(other.split()) for other in chosen):
                continue  # "mouse cortex" says "mouse" and "cortex" already
            chosen.append(term)
            if len(chosen) == n:
                break
        return chosen

    def top_terms(self, row: sparse.csr_matrix, vectorizer: Vectorizer, n: int = 3) -> list[str]:
        """The words behind this paper's score: its terms with the largest positive
        contribution (feature value times weight)."""
        if self.kind != LOGISTIC or not len(self.indices):
            return []
        weight_of = dict(zip(self.indices.tolist(), self.weights.tolist(), strict=True))
        scored = [
            (value * weight_of[col], col)
            for col, value in zip(row.indices.tolist(), row.data.tolist(), strict=True)
            if col in weight_of and vectorizer.is_term(col)
        ]
        chosen: list[str] = []
        for _score, col in sorted((s for s in scored if s[0] > 0), reverse=True):
            term = vectorizer.feature_name(col)
            words = set(term.split())
            if any(words & set(other.split()) for other in chosen):
                continue  # "mouse cortex" says "mouse" and "cortex" already
            chosen.append(term)
            if len(chosen) == n:
                break
        return chosen


def _prune_rows(matrix: sparse.csr_matrix, keep: int) -> sparse.csr_matrix:
    """Each row's `keep` largest values, renormalized (cosine stays close, storage small)."""
    rows = []
    for i in range(matrix.shape[0]):
        row = matrix.getrow(i)
        if row.nnz > keep:
            top = np.argpartition(row.data, -keep)[-keep:]
            row = sparse.csr_matrix(
                (row.data[top], (np.zeros(keep, dtype=np.int32), row.indices[top])),
                shape=row.shape,
            )
        norm = float(np.sqrt(row.multiply(row).sum()))
        rows.append(row / norm if norm else row)
    if not rows:
        return sparse.csr_matrix((0, matrix.shape[1]), dtype=np.float32)
    return sparse.csr_matrix(sparse.vstack(rows), dtype=np.float32)


def train(
    vectorizer: Vectorizer,
    liked: sparse.csr_matrix,
    liked_ids: Sequence[int],
    disliked: sparse.csr_matrix,
    unrated: sparse.csr_matrix,
    ratings: int,
) -> ReaderModel:
    """A model from the rows of the papers a reader liked (rated up or gave as seeds, most
    recent first), disliked, and a sample of recent papers they did not rate."""
    if vectorizer.version is None:
        raise ValueError("train with a stored vectorizer version")
    prototypes = _prune_rows(liked[:MAX_PROTOTYPES], PROTOTYPE_TERMS)
    base = ReaderModel(
        kind=PROTOTYPES,
        vectorizer_version=vectorizer.version,
        ratings=ratings,
        indices=np.zeros(0, dtype=np.int32),
        weights=np.zeros(0, dtype=np.float32),
        intercept=0.0,
        prototypes=prototypes,
        prototype_ids=list(liked_ids[:MAX_PROTOTYPES]),
    )
    negatives = disliked.shape[0] + unrated.shape[0]
    if ratings < MIN_RATINGS or liked.shape[0] == 0 or negatives == 0:
        return base
    features = sparse.vstack([liked, disliked, unrated], format="csr")
    labels = np.concatenate(
        [np.ones(liked.shape[0]), np.zeros(disliked.shape[0] + unrated.shape[0])]
    )
    weights = np.concatenate(
        [
            np.ones(liked.shape[0]),
            np.ones(disliked.shape[0]),
            np.full(unrated.shape[0], WEAK_WEIGHT),
        ]
    )
    # both sides weigh the same in total, however few likes there are
    negative_total = float(weights[labels == 0].sum())
    weights[labels == 1] *= negative_total / max(1.0, float(liked.shape[0]))
    fitted = LogisticRegression(C=REGULARIZATION, solver="liblinear", max_iter=200)
    fitted.fit(features, labels, sample_weight=weights)
    coef = fitted.coef_.ravel().astype(np.float32)
    nonzero = np.flatnonzero(coef)
    if len(nonzero) > MAX_WEIGHTS:
        nonzero = nonzero[np.argpartition(np.abs(coef[nonzero]), -MAX_WEIGHTS)[-MAX_WEIGHTS:]]
    nonzero.sort()
    base.kind = LOGISTIC
    base.indices = nonzero.astype(np.int32)
    base.weights = coef[nonzero]
    base.intercept = float(fitted.intercept_[0])
    return base


def relevance_matrix(features: sparse.csr_matrix, models: Sequence[ReaderModel]) -> Floats:
    """Relevance in [0, 1] of every paper (row of `features`) for every model (column): one
    sparse product per kind, whatever the number of readers."""
    papers = features.shape[0]
    result = np.zeros((papers, len(models)), dtype=np.float32)
    logistic = [i for i, m in enumerate(models) if m.kind == LOGISTIC]
    if logistic:
        rows = np.concatenate([models[i].indices for i in logistic])
        cols = np.concatenate(
            [np.full(len(models[i].indices), k, dtype=np.int32) for k, i in enumerate(logistic)]
        )
        data = np.concatenate([models[i].weights for i in logistic])
        weights = sparse.csr_matrix((data, (rows, cols)), shape=(features.shape[1], len(logistic)))
        logits = np.asarray((features @ weights).todense(), dtype=np.float32)
        logits += np.array([models[i].intercept for i in logistic], dtype=np.float32)
        result[:, logistic] = 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))
    others = [i for i, m in enumerate(models) if m.kind != LOGISTIC and m.prototypes.shape[0]]
    if others:
        stacked = sparse.vstack([models[i].prototypes for i in others], format="csr")
        similarity = np.asarray((features @ stacked.T).todense(), dtype=np.float32)
        start = 0
        for i in others:
            count = models[i].prototypes.shape[0]
            result[:, i] = np.clip(similarity[:, start : start + count].max(axis=1), 0, 1)
            start += count
    return result


def closest_prototypes(
    model: ReaderModel, rows: sparse.csr_matrix
) -> list[tuple[int, float] | None]:
    """For each row (paper), the prototype most like it and how alike (cosine)."""
    if not model.prototypes.shape[0]:
        return [None] * rows.shape[0]
    similarity = np.asarray((model.prototypes @ rows.T).todense())
    best = similarity.argmax(axis=0)
    return [(model.prototype_ids[int(b)], float(similarity[int(b), k])) for k, b in enumerate(best)]


def closest_prototype(model: ReaderModel, row: sparse.csr_matrix) -> tuple[int, float] | None:
    """The prototype most like this paper, and how alike (cosine), or None."""
    if not model.prototypes.shape[0]:
        return None
    similarity = np.asarray((model.prototypes @ row.T).todense()).ravel()
    best = int(similarity.argmax())
    return model.prototype_ids[best], float(similarity[best])
