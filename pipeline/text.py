"""Untrusted text made fit for one line: a subject, a header, a log line or an error message.

Feed titles, SMTP replies and exception texts can carry line breaks, control characters and
any length. Every place that prints one of them on a single line goes through `one_line`.
"""

from __future__ import annotations

import re

# C0/C1 controls, DEL and every Unicode space or line/paragraph separator.
_BREAKS = re.compile(r"[\x00-\x20\x7f-\x9f\s]+")


def one_line(text: str | bytes, limit: int | None = None) -> str:
    """Every run of whitespace or control characters becomes one space; stripped; at most
    `limit` characters, cut with "..." (bytes are read as UTF-8, bad bytes replaced)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    flat = _BREAKS.sub(" ", text).strip()
    if limit is not None and len(flat) > limit:
        return flat[: max(0, limit - 3)].rstrip() + "..."
    return flat
