"""Shape untrusted paper fields for the digest: trimmed, shortened, safe to link, token-free.

Feeds are untrusted input. Everything here bounds sizes (Gmail clips a message body past
~102 KB) and removes what could break the mail: links that are not http(s), and any text that
would collide with the placeholder tokens filled in after rendering.
"""

from __future__ import annotations

import re
import textwrap
from urllib.parse import urlsplit

from pipeline.render.placeholders import PREFIX as PLACEHOLDER_PREFIX

ABSTRACT_LIMIT = 420
TLDR_LIMIT = 300  # a one-line summary; longer ones are cut at a word
ABSTRACT_MIN = 350
TITLE_LIMIT = 300
AUTHOR_NAME_LIMIT = 80
MAX_AUTHORS_SHOWN = 3
MAX_CATEGORIES_SHOWN = 6
URL_LIMIT = 2000

_SPACE_RE = re.compile(r"\s+")
# Characters that have no business in a URL we print into an attribute (RFC 3986 section 2).
_URL_FORBIDDEN_RE = re.compile(r"[\s\"'<>\\^`{|}\x00-\x1f\x7f-\x9f]")


# mjml adds a Google Fonts <link> when the rendered body matches '"...font-family:...Roboto..."',
# and it writes text quotes back unescaped: a hostile title could pull in external CSS.
_FONT_FAMILY_RE = re.compile(r"font-family\s*:", re.IGNORECASE)


def neutralize_tokens(text: str) -> str:
    """Break token look-alikes and mjml's font trigger with a zero-width space (U+200B)."""
    text = _FONT_FAMILY_RE.sub(lambda found: found.group(0)[:-1] + "\u200b:", text)
    return text.replace(PLACEHOLDER_PREFIX, "PR\u200bx")


def clean_text(text: str, limit: int) -> str:
    """Collapse whitespace, drop token look-alikes and cut at a word boundary with an ellipsis."""
    flat = neutralize_tokens(_SPACE_RE.sub(" ", text).strip())
    return trim_words(flat, limit, minimum=limit * 5 // 6)


def trim_words(text: str, limit: int, minimum: int) -> str:
    """Cut text to at most limit characters, at the last space after minimum, plus an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= minimum:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-\u2013\u2014") + "\u2026"


def trim_abstract(abstract: str) -> str:
    """About 350-420 characters of the abstract, ending at a word boundary."""
    flat = neutralize_tokens(_SPACE_RE.sub(" ", abstract).strip())
    return trim_words(flat, ABSTRACT_LIMIT, ABSTRACT_MIN)


def shorten_authors(authors: tuple[str, ...]) -> str:
    """'A, B, C et al.' for long lists; every name bounded in length."""
    names = [clean_text(name, AUTHOR_NAME_LIMIT) for name in authors]
    names = [name for name in names if name]
    if len(names) > MAX_AUTHORS_SHOWN + 1:
        return ", ".join(names[:MAX_AUTHORS_SHOWN]) + " et al."
    return ", ".join(names)


def safe_url(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) URL we can print safely, else None.

    Token look-alikes are percent-encoded ('x' as %78), which RFC 3986 section 6.2.2.2 makes
    equivalent, so substitution cannot touch them.
    """
    if not url or len(url) > URL_LIMIT or _URL_FORBIDDEN_RE.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return None
    return url.replace(PLACEHOLDER_PREFIX, "PR%78")


def wrap(text: str, width: int = 76, indent: str = "", first: str | None = None) -> str:
    """Wrap plain text for the text/plain part; long URLs stay whole on their own line."""
    lines = textwrap.wrap(
        text,
        width=width,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return "\n".join(lines)
