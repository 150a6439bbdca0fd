"""The arXiv category taxonomy, shipped as data (pipeline/readers/data/arxiv_taxonomy.txt).

A reader's categories are checked against it wherever they are set (the sign-up form, the
API, the preferences page, `subscribers add|update`, CSV imports), so "cs.XY" is refused with
the same one line everywhere instead of silently matching no paper. Codes are matched without
regard to case and stored as arXiv spells them ("CS.lg" is cs.LG).
"""

from __future__ import annotations

import difflib
import functools
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "arxiv_taxonomy.txt"
TAXONOMY_URL = "https://arxiv.org/category_taxonomy"


@functools.cache
def _codes() -> dict[str, str]:
    """Case-folded code -> the code as arXiv writes it."""
    lines = DATA.read_text(encoding="utf-8").splitlines()
    codes = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return {code.casefold(): code for code in codes}


def known_categories() -> list[str]:
    """Every archive and category, in the file's order."""
    return list(_codes().values())


def canonical_category(code: str) -> str | None:
    """The code as arXiv spells it, or None when the taxonomy has no such archive/category."""
    return _codes().get(code.strip().casefold())


def unknown_category_message(code: str) -> str:
    """Why `code` is refused, with the nearest real codes when there are any."""
    close = difflib.get_close_matches(code, known_categories(), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else f"; see {TAXONOMY_URL}"
    return f"{code[:40]!r} is not an arXiv category like cs.CL{hint}"
