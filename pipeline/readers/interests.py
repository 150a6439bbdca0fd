"""What a reader told us beyond categories and keywords: papers they like, authors to follow
or mute, keywords that rule a paper out, and how much personal relevance should count.

Validation is shared by the CLI, the preferences page and the API, so every door refuses
the same values with the same one-line message. Author names are compared by `author_key`:
surname and first initial, without accents or case, so "Yann LeCun", "Y. LeCun" and
"LeCun, Yann" are one author; a bare surname follows every author of that surname.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache

from sqlalchemy.orm import Session

from pipeline.ingest.identifiers import parse_arxiv_id
from pipeline.readers.preferences import PreferenceError, clean_keywords
from pipeline.store.models import ReaderInterests
from pipeline.timeutil import utcnow

MAX_SEEDS = 50
MAX_AUTHORS = 50
MAX_AUTHOR_LENGTH = 100
DEFAULT_WEIGHT_PERSONAL = 0.75  # readers with ratings or seeds: relevance leads
DEFAULT_WEIGHT_FILTERS = 0.5  # readers with only categories and keywords


@dataclass(frozen=True)
class Interests:
    seeds: tuple[str, ...] = ()  # arXiv ids, without version
    follow_authors: tuple[str, ...] = ()
    mute_authors: tuple[str, ...] = ()
    exclude_keywords: tuple[str, ...] = ()
    relevance_weight: float | None = None  # 0..1; None: the default for this reader
    min_score: float | None = None  # 0..1; None: no minimum
    skip_empty: bool = True

    def with_changes(self, **changes: object) -> Interests:
        return replace(self, **changes)  # type: ignore[arg-type]

    def weight(self, personal: bool) -> float:
        """How much relevance counts (the rest is trending) for a reader with (or without)
        ratings or seeds."""
        if self.relevance_weight is not None:
            return self.relevance_weight
        return DEFAULT_WEIGHT_PERSONAL if personal else DEFAULT_WEIGHT_FILTERS


def clean_seeds(values: Iterable[str]) -> tuple[str, ...]:
    """arXiv ids from ids or URLs in any spelling ingestion knows (separated by commas,
    spaces or new lines)."""
    result: dict[str, None] = {}
    for raw in values:
        for part in str(raw).replace(",", " ").split():
            found = parse_arxiv_id(part)
            if found is None:
                raise PreferenceError(
                    f"papers you like: {part[:40]!r} is not an arXiv id or arXiv URL"
                )
            result[found[0]] = None
    if len(result) > MAX_SEEDS:
        raise PreferenceError(f"papers you like: at most {MAX_SEEDS}")
    return tuple(result)


def clean_authors(values: Iterable[str], field: str) -> tuple[str, ...]:
    """Author names, one per comma-separated part (or list item), spaces collapsed."""
    result: dict[str, str] = {}
    for raw in values:
        for part in str(raw).replace(";", ",").split(","):
            name = " ".join(part.split())
            if not name:
                continue
            if any(unicodedata.category(ch)[0] == "C" for ch in name):
                raise PreferenceError(f"{field}: {name[:20]!r} contains a control character")
            if len(name) > MAX_AUTHOR_LENGTH:
                raise PreferenceError(f"{field}: {name[:20]!r}... is too long")
            if not author_key(name)[0]:
                raise PreferenceError(f"{field}: {name[:20]!r} has no letters")
            result.setdefault(" ".join(author_key(name)), name)
    if len(result) > MAX_AUTHORS:
        raise PreferenceError(f"{field}: at most {MAX_AUTHORS}")
    return tuple(result.values())


def validate(interests: Interests) -> Interests:
    """Normalized interests, or PreferenceError naming the first bad field."""
    for name, value in (
        ("relevance weight", interests.relevance_weight),
        ("minimum score", interests.min_score),
    ):
        if value is not None and not 0 <= value <= 1:
            raise PreferenceError(f"{name}: choose 0 to 100%")
    return replace(
        interests,
        seeds=clean_seeds(interests.seeds),
        follow_authors=clean_authors(interests.follow_authors, "authors to follow"),
        mute_authors=clean_authors(interests.mute_authors, "authors to mute"),
        exclude_keywords=clean_keywords(interests.exclude_keywords),
    )


def change_interests(
    session: Session, subscriber_id: int, changes: dict[str, object], now: datetime | None = None
) -> Interests:
    """Apply `changes` (Interests field -> value) to the reader's interests, validated;
    PreferenceError names the first bad field. The caller commits."""
    updated = validate(load_interests(session, subscriber_id).with_changes(**changes))
    if changes:
        save_interests(session, subscriber_id, updated, now)
    return updated


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def author_key(name: str) -> tuple[str, str]:
    """(surname, first initial) of a name, folded; the initial is "" for a bare surname."""
    if "," in name:
        family, _, given = name.partition(",")
    else:
        words = name.split()
        family, given = (words[-1], " ".join(words[:-1])) if words else ("", "")
    surname = "".join(c for c in _fold(family) if c.isalnum())
    initials = [w for w in _fold(given).replace(".", " ").replace("-", " ").split() if w]
    return surname, (initials[0][0] if initials else "")


def same_author(wanted: tuple[str, str], author: tuple[str, str]) -> bool:
    """A followed name matches an author of the same surname whose initial agrees (or
    either has none)."""
    return wanted[0] == author[0] and (not wanted[1] or not author[1] or wanted[1] == author[1])


def load_interests(session: Session, subscriber_id: int) -> Interests:
    row = session.get(ReaderInterests, subscriber_id)
    return interests_of(row) if row is not None else Interests()


def interests_of(row: ReaderInterests) -> Interests:
    return Interests(
        seeds=tuple(row.seeds or ()),
        follow_authors=tuple(row.follow_authors or ()),
        mute_authors=tuple(row.mute_authors or ()),
        exclude_keywords=tuple(row.exclude_keywords or ()),
        relevance_weight=row.relevance_weight,
        min_score=row.min_score,
        skip_empty=row.skip_empty,
    )


def save_interests(
    session: Session, subscriber_id: int, interests: Interests, now: datetime | None = None
) -> None:
    """Store validated interests; the caller commits. Changed seeds mark the reader's model
    for training again."""
    row = session.get(ReaderInterests, subscriber_id)
    if row is None:
        row = ReaderInterests(subscriber_id=subscriber_id, changed_at=now or utcnow())
        session.add(row)
    elif tuple(row.seeds or ()) != interests.seeds:
        row.changed_at = now or utcnow()
    row.seeds = list(interests.seeds)
    row.follow_authors = list(interests.follow_authors)
    row.mute_authors = list(interests.mute_authors)
    row.exclude_keywords = list(interests.exclude_keywords)
    row.relevance_weight = interests.relevance_weight
    row.min_score = interests.min_score
    row.skip_empty = interests.skip_empty


def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """Whole words, case-folded, the last word in singular or simple plural form."""
    return _keyword_pattern(keyword.casefold())


@lru_cache(maxsize=4096)
def _keyword_pattern(folded: str) -> re.Pattern[str]:
    head, _, last = folded.rpartition(" ")
    prefix = re.escape(head + " ") if head else ""
    if len(last) > 3 and last.endswith("ies"):
        word = re.escape(last[:-3]) + "(?:y|ies)"
    elif len(last) > 3 and re.search(r"(?:s|x|z|ch|sh)es$", last):
        word = re.escape(last[:-2]) + "(?:es)?"
    elif len(last) > 2 and last.endswith("s") and not last.endswith("ss"):
        word = re.escape(last[:-1]) + "s?"
    elif len(last) > 1 and last.endswith("y") and last[-2] not in "aeiou":
        word = re.escape(last[:-1]) + "(?:y|ies)"
    elif last and last[-1:].isalnum():
        word = re.escape(last) + "(?:s|es)?"
    else:
        word = re.escape(last)
    return re.compile(r"(?<!\w)" + prefix + word + r"(?!\w)")
