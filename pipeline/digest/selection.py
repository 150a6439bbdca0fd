"""Which of an edition's papers each reader gets, in what order, and why.

Hard filters first: a reader who names categories or keywords gets only papers in one of
those categories (an archive such as "cs" covers cs.*) or with one of those keywords in the
title or abstract (whole words, any case, simple plurals: "llm" matches "LLMs"); papers by
authors they follow always pass; papers with an excluded keyword or by a muted author never
do (a followed author outranks both); nothing the reader was sent before or rated comes back.

Then a score in [0, 1]: `weight * relevance + (1 - weight) * trending`, where trending is
the paper's rank in the edition (1 for the top paper, 0 for the last) and relevance is the
paper's rank among the reader's candidates by their model (pipeline/relevance/model.py)
when they have one, else 1 for a paper that passed their filters. Both are ranks, so the
weight means what it says. The weight is the reader's own, else a default that favors relevance
for readers with ratings or seeds. Followed authors' papers come first (a section of their
own), then the rest by score; a reader's minimum score drops the papers below it.

Each pick carries its reasons ("you follow ...", 'similar to "..."', "trending: +12 upvotes
today"): the card shows them. Matching is set-based and model scoring is one sparse product
per batch of readers (`select_all`), so 100,000 readers cost seconds, not a scan each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.stats import rankdata

from pipeline.ranking.ranked import RankedPaper
from pipeline.readers.interests import Interests, author_key, keyword_pattern, same_author
from pipeline.relevance.features import PaperText, Vectorizer
from pipeline.relevance.model import LOGISTIC, ReaderModel, closest_prototypes, relevance_matrix

SIMILAR_ENOUGH = 0.15  # cosine below which "similar to ..." would be a stretch
MAX_REASONS = 3
TITLE_IN_REASON = 70
BATCH = 1000  # model readers scored per sparse product


class VectorizerSource(Protocol):
    def get(self, version: int) -> Vectorizer: ...


@dataclass(frozen=True, slots=True)
class Reader:
    """What selection needs of a reader."""

    id: int
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    limit: int = 10
    interests: Interests = field(default_factory=Interests)
    model: ReaderModel | None = None
    exclude: frozenset[int] = frozenset()  # sent before, or rated

    @property
    def personal(self) -> bool:
        return self.model is not None


@dataclass(frozen=True, slots=True)
class Pick:
    paper_id: int
    score: float
    relevance: float
    reasons: tuple[str, ...]
    followed: bool = False


def _short(title: str) -> str:
    flat = " ".join(title.split())
    return flat if len(flat) <= TITLE_IN_REASON else flat[: TITLE_IN_REASON - 1].rstrip() + "…"


class EditionIndex:
    """An edition's papers with their lookup tables (categories, keywords, authors) and, per
    vocabulary version, their vectors, computed once and shared by every reader."""

    def __init__(
        self,
        papers: Sequence[RankedPaper],
        vectorizers: VectorizerSource | None = None,
        titles: Callable[[Iterable[int]], Mapping[int, str]] | None = None,
    ) -> None:
        self.papers = list(papers)
        self.ids = [p.id for p in self.papers]
        count = len(self.papers)
        self.trend: npt.NDArray[np.float32] = (
            1.0 - np.arange(count, dtype=np.float32) / max(1, count - 1)
        ).astype(np.float32)
        self._vectorizers = vectorizers
        self._titles = titles
        self._features: dict[int, sparse.csr_matrix] = {}
        self._by_category: dict[str, set[int]] = {}
        self._authors: list[list[tuple[str, str]]] = []
        self._by_surname: dict[str, set[int]] = {}
        for position, paper in enumerate(self.papers):
            for category in paper.categories:
                self._by_category.setdefault(category, set()).add(position)
                # following "cs" follows every cs.* category
                self._by_category.setdefault(category.split(".")[0], set()).add(position)
            keys = [author_key(name) for name in paper.authors]
            self._authors.append(keys)
            for surname, _initial in keys:
                self._by_surname.setdefault(surname, set()).add(position)
        self._texts = [f"{p.title}\n{p.abstract}".casefold() for p in self.papers]
        self._by_keyword: dict[str, set[int]] = {}
        self._id_set = frozenset(self.ids)
        self._position_of = {pid: position for position, pid in enumerate(self.ids)}
        self._all_positions = set(range(count))
        self._all_sorted = list(range(count))
        self._shared: dict[object, list[Pick]] = {}

    # --- lookups ---------------------------------------------------------------------------

    def keyword_positions(self, keyword: str) -> set[int]:
        found = self._by_keyword.get(keyword)
        if found is None:
            pattern = keyword_pattern(keyword)
            found = {i for i, text in enumerate(self._texts) if pattern.search(text)}
            self._by_keyword[keyword] = found
        return found

    def author_positions(self, name: str) -> set[int]:
        wanted = author_key(name)
        return {
            position
            for position in self._by_surname.get(wanted[0], set())
            if any(same_author(wanted, key) for key in self._authors[position])
        }

    def features(self, version: int) -> tuple[sparse.csr_matrix, Vectorizer]:
        if self._vectorizers is None:
            raise LookupError("this edition index was built without vectorizers")
        vectorizer = self._vectorizers.get(version)
        if version not in self._features:
            texts = [PaperText(p.id, p.title, p.abstract, tuple(p.categories)) for p in self.papers]
            self._features[version] = vectorizer.transform(texts)
        return self._features[version], vectorizer

    # --- selection -------------------------------------------------------------------------

    def select(self, reader: Reader) -> list[Pick]:
        """One reader's picks (see the module docstring for the rules)."""
        return self.select_all([reader])[reader.id]

    def select_all(self, readers: Sequence[Reader]) -> dict[int, list[Pick]]:
        """Every reader's picks; readers with models are scored in batches, and readers
        without one who want the same things (and have the same papers of this edition
        ruled out) share one computation."""
        result: dict[int, list[Pick]] = {}
        modelled: dict[int, list[Reader]] = {}
        for reader in readers:
            if reader.model is not None and self._vectorizers is not None and self.papers:
                modelled.setdefault(reader.model.vectorizer_version, []).append(reader)
            else:
                key = (
                    reader.categories,
                    reader.keywords,
                    reader.limit,
                    reader.interests,
                    reader.exclude & self._id_set,
                )
                found = self._shared.get(key)
                if found is None:
                    found = self._pick(reader, None, None)
                    self._shared[key] = found
                result[reader.id] = found
        for version, group in modelled.items():
            matrix, vectorizer = self.features(version)
            for start in range(0, len(group), BATCH):
                batch = group[start : start + BATCH]
                models = [r.model for r in batch if r.model is not None]
                scores = relevance_matrix(matrix, models)
                titles = self._prototype_titles(models)
                for column, reader in enumerate(batch):
                    result[reader.id] = self._pick(
                        reader, scores[:, column], (matrix, vectorizer, titles)
                    )
        return result

    def _prototype_titles(self, models: Sequence[ReaderModel]) -> Mapping[int, str]:
        if self._titles is None:
            return {}
        return self._titles({pid for m in models for pid in m.prototype_ids})

    def _candidates(self, reader: Reader) -> tuple[list[int], set[int], dict[int, str]]:
        """(positions passing the filters, positions matched by a filter, followed author
        name by position)."""
        followed: dict[int, str] = {}
        for name in reader.interests.follow_authors:
            for position in self.author_positions(name):
                followed.setdefault(position, name)
        matched: set[int] = set()
        for category in reader.categories:
            matched |= self._by_category.get(category, set())
        for keyword in reader.keywords:
            matched |= self.keyword_positions(keyword)
        if reader.categories or reader.keywords:
            allowed = matched | set(followed)
        else:
            allowed = self._all_positions
        blocked: set[int] = set()
        for keyword in reader.interests.exclude_keywords:
            blocked |= self.keyword_positions(keyword)
        for name in reader.interests.mute_authors:
            blocked |= self.author_positions(name)
        blocked -= set(followed)
        if reader.exclude:
            blocked |= {self._position_of[i] for i in reader.exclude & self._id_set}
        positions = (
            sorted(allowed - blocked)
            if blocked or allowed is not self._all_positions
            else self._all_sorted
        )
        return positions, matched, followed

    def _pick(
        self,
        reader: Reader,
        relevance: npt.NDArray[np.float32] | None,
        model_parts: tuple[sparse.csr_matrix, Vectorizer, Mapping[int, str]] | None,
    ) -> list[Pick]:
        positions, matched, followed = self._candidates(reader)
        if not positions:
            return []
        where = np.array(positions, dtype=np.int64)
        weight = reader.interests.weight(reader.personal)
        if relevance is not None:
            # as ranks, like trending: a model's probabilities crowd into a narrow band, and
            # blended raw they would let trending decide whatever the weight
            rel = (rankdata(relevance[where]) / len(positions)).astype(np.float32)
        elif reader.categories or reader.keywords:
            rel = np.array([1.0 if p in matched else 0.0 for p in positions], dtype=np.float32)
        else:
            rel = np.zeros(len(positions), dtype=np.float32)
        scores = weight * rel + (1.0 - weight) * self.trend[where]
        is_followed = np.array([p in followed for p in positions], dtype=bool)
        keep = np.ones(len(positions), dtype=bool)
        minimum = reader.interests.min_score
        if minimum is not None:
            keep = is_followed | (scores >= minimum)
        # followed authors first, then best score, ties by edition rank (a total order)
        order = np.lexsort((where, -scores, ~is_followed))
        chosen = [int(i) for i in order if keep[i]][: reader.limit]
        if not chosen:
            return []
        reasons = self._reasons(
            reader, [positions[i] for i in chosen], followed, matched, model_parts, weight
        )
        return [
            Pick(
                self.ids[positions[i]],
                float(scores[i]),
                float(rel[i]),
                said,
                bool(is_followed[i]),
            )
            for i, said in zip(chosen, reasons, strict=True)
        ]

    def _reasons(
        self,
        reader: Reader,
        chosen: Sequence[int],
        followed: Mapping[int, str],
        matched: set[int],
        model_parts: tuple[sparse.csr_matrix, Vectorizer, Mapping[int, str]] | None,
        weight: float,
    ) -> list[tuple[str, ...]]:
        """The reasons of each chosen paper (positions), the model's worked out for all of
        them at once."""
        similar: list[str | None] = [None] * len(chosen)
        about: list[list[str]] = [[] for _ in chosen]
        if model_parts is not None and reader.model is not None:
            matrix, vectorizer, titles = model_parts
            rows = matrix[list(chosen)]
            for k, found in enumerate(closest_prototypes(reader.model, rows)):
                if found is not None and found[1] >= SIMILAR_ENOUGH and found[0] in titles:
                    similar[k] = f'similar to "{_short(titles[found[0]])}", which you liked'
            if reader.model.kind == LOGISTIC:
                about = reader.model.top_terms_of_rows(rows, vectorizer)
        result = []
        for k, position in enumerate(chosen):
            paper = self.papers[position]
            reasons: list[str] = []
            if position in followed:
                reasons.append(f"you follow {followed[position]}")
            if position in matched:
                reasons.append(self._matched_reason(reader, position))
            if similar[k] is not None:
                reasons.append(similar[k] or "")
            if about[k]:
                reasons.append("about " + ", ".join(about[k]))
            if paper.velocity > 0:
                reasons.append(f"trending: +{paper.velocity} upvotes today")
            elif paper.upvotes > 0 and (weight < 1 or not reasons):
                reasons.append(f"trending: {paper.upvotes} upvotes")
            if not reasons:
                top = float(self.trend[position]) >= 0.5
                reasons.append("among the edition's top papers" if top else "new in the window")
            result.append(tuple(reasons[:MAX_REASONS]))
        return result

    def _matched_reason(self, reader: Reader, position: int) -> str:
        for keyword in reader.keywords:
            if position in self.keyword_positions(keyword):
                return f'matches your keyword "{keyword}"'
        for category in reader.categories:
            if position in self._by_category.get(category, set()):
                return f"in {category}, which you follow"
        return "matches what you follow"
