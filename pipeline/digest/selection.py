"""Which of an edition's papers each reader gets: their categories and keywords, best first.

A paper matches a reader who follows nothing (everything matches), or who follows one of its
categories, or one of whose keywords appears in its title or abstract (case-insensitive,
whole words). Matching is set-based (per category and per keyword, computed once per edition)
so 10,000 readers with different filters cost milliseconds, not a scan per reader.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from pipeline.ranking.ranked import RankedPaper


@dataclass(frozen=True, slots=True)
class ReaderFilter:
    categories: tuple[str, ...]
    keywords: tuple[str, ...]
    limit: int


class EditionIndex:
    """Per-edition lookup tables: category -> paper positions, keyword -> paper positions."""

    def __init__(self, papers: Sequence[RankedPaper]) -> None:
        self.papers = list(papers)
        self.ids = [p.id for p in self.papers]
        self._by_category: dict[str, set[int]] = {}
        for position, paper in enumerate(self.papers):
            for category in paper.categories:
                self._by_category.setdefault(category, set()).add(position)
                # following "cs" follows every cs.* category
                self._by_category.setdefault(category.split(".")[0], set()).add(position)
        self._texts = [f"{p.title}\n{p.abstract}".casefold() for p in self.papers]
        self._by_keyword: dict[str, set[int]] = {}

    def _keyword_positions(self, keyword: str) -> set[int]:
        found = self._by_keyword.get(keyword)
        if found is None:
            pattern = _keyword_pattern(keyword)
            found = {i for i, text in enumerate(self._texts) if pattern.search(text)}
            self._by_keyword[keyword] = found
        return found

    def select(
        self, reader: ReaderFilter, exclude: set[int] | frozenset[int] = frozenset()
    ) -> list[int]:
        """Paper ids for this reader, in edition rank order, at most `reader.limit`."""
        if not reader.categories and not reader.keywords:
            positions: Iterable[int] = range(len(self.papers))
        else:
            chosen: set[int] = set()
            for category in reader.categories:
                chosen |= self._by_category.get(category, set())
            for keyword in reader.keywords:
                chosen |= self._keyword_positions(keyword)
            positions = sorted(chosen)
        result = []
        for position in positions:
            paper_id = self.ids[position]
            if paper_id in exclude:
                continue
            result.append(paper_id)
            if len(result) >= reader.limit:
                break
        return result


@lru_cache(maxsize=4096)
def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(keyword.casefold()) + r"(?!\w)")
