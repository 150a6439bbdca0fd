"""The per-segment parts of a digest card, made after the edition is compiled.

A card's section heading ("From authors you follow"), its reasons ("Why: you follow Ann
Lee; trending: +12 upvotes today") and its feedback links differ between segments of one
edition, so they are slots the compiled pieces are split on (pipeline/render/pieces.py) and
these functions write what fills them: escaped HTML with its styles inline (premailer ran
long before), and wrapped plain text. Reasons quote paper titles, which are untrusted:
they are escaped and stripped of placeholder look-alikes like every other feed text, and
their TeX is shown as Unicode as on the card (pipeline/render/tex.py).
"""

from __future__ import annotations

import functools
import html
import textwrap
from collections.abc import Sequence

from pipeline.render.fields import neutralize_tokens
from pipeline.render.placeholders import feedback_token
from pipeline.render.tex import tex_to_text

FOLLOWED_HEADING = "From authors you follow"
OTHERS_HEADING = "More papers for you"
_MUTED = "color:#59636e"
_LINK = "color:#0b57d0"
WIDTH = 76
INDENT = "    "


def _clean(text: str) -> str:
    """One line, TeX shown as Unicode (reasons quote titles), token look-alikes broken."""
    return neutralize_tokens(" ".join(tex_to_text(text).split()))


def reason_html(reasons: Sequence[str]) -> str:
    return _reason_html(tuple(reasons))


def reason_text(reasons: Sequence[str]) -> str:
    return _reason_text(tuple(reasons))


# Reasons repeat across segments ("matches cs.LG", a followed author): each distinct list is
# cleaned, escaped and wrapped once per process, not once per card of every segment.
@functools.lru_cache(maxsize=8192)
def _reason_html(reasons: tuple[str, ...]) -> str:
    if not reasons:
        return ""
    said = html.escape("; ".join(_clean(r) for r in reasons), quote=True)
    return f'<p class="why" style="margin:0 0 6px;font-size:13px;{_MUTED}">Why: {said}</p>'


@functools.lru_cache(maxsize=8192)
def _reason_text(reasons: tuple[str, ...]) -> str:
    if not reasons:
        return ""
    said = "Why: " + "; ".join(_clean(r) for r in reasons)
    return textwrap.fill(said, WIDTH, initial_indent=INDENT, subsequent_indent=INDENT) + "\n"


def feedback_html(number: int) -> str:
    """ "More like this / Less like this" for the number-th card; the URL is the reader's."""
    url = feedback_token(number)
    style = f'style="{_LINK}"'
    return (
        '<p class="feedback" style="margin:0 0 6px;font-size:13px">'
        f'<a href="{url}/more" {style}>&#128077; More like this</a> &middot; '
        f'<a href="{url}/less" {style}>&#128078; Less like this</a></p>'
    )


def feedback_text(number: int) -> str:
    url = feedback_token(number)
    return f"{INDENT}More like this: {url}/more\n{INDENT}Less like this: {url}/less\n"


def section_html(heading: str) -> str:
    return (
        '<p class="section" style="margin:0 0 8px;font-size:12px;font-weight:600;'
        f'letter-spacing:.04em;text-transform:uppercase;{_MUTED}">{html.escape(heading)}</p>'
    )


def section_text(heading: str) -> str:
    return f"== {heading} ==\n\n"


def headings(followed: Sequence[bool]) -> list[str]:
    """The heading each card opens with: a section starts at the first followed card and,
    after followed cards, at the first other one; no headings when nothing is followed."""
    result = []
    for position, is_followed in enumerate(followed):
        previous = followed[position - 1] if position else None
        if is_followed and previous is not True:
            result.append(FOLLOWED_HEADING)
        elif not is_followed and previous is True:
            result.append(OTHERS_HEADING)
        else:
            result.append("")
    return result
