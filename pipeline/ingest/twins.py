"""One paper, two keys: recognizing an entry without an id as a paper already known.

A lab blog or a summary site may link a paper by its own URL with no arXiv id or DOI in
sight, so its entry is keyed by that URL and would become a second paper beside the arXiv
one. The backstop: entries whose titles are the same once normalized (case, accents,
punctuation, spacing and line wraps aside), and whose authors share a surname when both name
authors, are one paper. A title alone is weak evidence, so only a key without an id ("url:")
is ever folded into another paper, and only into one whose match is unambiguous.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

TITLE_KEY_LENGTH = 300  # the stored column's length
# Shorter titles ("Introduction", "Editorial", "Book reviews") say too little to match on.
MIN_TITLE_CHARS = 16
MIN_TITLE_WORDS = 3
_NOT_WORD = re.compile(r"[\W_]+")


def _folded_words(text: str) -> list[str]:
    """Words without accents, case or punctuation (NFKD, combining marks dropped)."""
    if text.isascii():  # most titles: nothing to decompose (and 10x faster)
        return _NOT_WORD.sub(" ", text.lower()).split()
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return _NOT_WORD.sub(" ", bare).split()


def title_key(title: str) -> str | None:
    """The title as matching sees it; None for a title too short to identify a paper."""
    words = _folded_words(title)
    key = " ".join(words)[:TITLE_KEY_LENGTH].rstrip()
    return key if len(words) >= MIN_TITLE_WORDS and len(key) >= MIN_TITLE_CHARS else None


def _surname(name: str) -> str:
    """A name's last word, folded like a title key ("A. Smith", "Alice Smith" -> "smith");
    "Smith, Alice" puts it first."""
    words = _folded_words(name.split(",", 1)[0] if "," in name else name)
    return words[-1] if words else ""


def same_authors(first: Iterable[str], second: Iterable[str]) -> bool:
    """Whether two author lists could be one paper's: they share a surname, or either is empty
    (a feed that names no authors neither confirms nor denies)."""
    ours = {s for s in map(_surname, first) if s}
    theirs = {s for s in map(_surname, second) if s}
    return not ours or not theirs or bool(ours & theirs)


def is_id_less(key: str) -> bool:
    """Keys from a link alone: the only ones a title match may fold into another paper."""
    return key.startswith("url:")
