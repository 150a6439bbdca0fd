"""The one vocabulary of placeholders: words left in a rendered digest, filled in later.

A digest is compiled once per edition (MJML, premailer), so anything that differs per segment
or per reader is left in it as a placeholder and filled by plain string work afterwards:

- per segment (pipeline/render/pieces.py): each paper's number, the paper count, how the
  segment is ranked, and per card its section heading, its reasons ("why you got this") and
  its feedback links (pipeline/render/cards.py);
- per reader (pipeline/mail/message.py, the only place that fills them): the unsubscribe,
  preferences and view-in-browser links, and each card's feedback link ("more / less like
  this": `feedback_token(n)` for the n-th card); in the confirmation mail, the confirm link
  and the address.

Placeholders are ASCII letters only: premailer (with lxml >= 5) percent-encodes braces and
spaces inside href attributes, so `{{ url }}` would come out as `{{%20url%20}}` and never be
found again. Every placeholder starts with PREFIX, and untrusted text is made free of PREFIX
before rendering (pipeline/render/fields.py), so a hostile title cannot ask for a reader's
unsubscribe link to be pasted into it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace

PREFIX = "PRx"

# Per segment
PAPER_NUMBER = "PRxPAPERxNUMBER"
PAPER_COUNT = "PRxPAPERxCOUNT"
RANKING = "PRxRANKINGxPHRASE"
PAPER_SECTION = "PRxPAPERxSECTION"
PAPER_REASON = "PRxPAPERxREASON"
PAPER_FEEDBACK = "PRxPAPERxFEEDBACK"
# Markers around each paper (a comment in HTML, a line in text), cut out after compiling:
# they never reach a reader.
PAPER_START = "PRxPAPERxSTARTx{}"
PAPERS_END = "PRxPAPERSxEND"
HTML_PAPER_START, HTML_PAPERS_END = f"<!--{PAPER_START}-->", f"<!--{PAPERS_END}-->"
TEXT_PAPER_START, TEXT_PAPERS_END = f"{PAPER_START}\n", f"{PAPERS_END}\n"

# Per reader
UNSUBSCRIBE_URL = "PRxUNSUBSCRIBExURL"
PREFERENCES_URL = "PRxPREFERENCESxURL"
BROWSER_URL = "PRxBROWSERxURL"
CONFIRM_URL = "PRxCONFIRMxURL"
RECIPIENT_EMAIL = "PRxRECIPIENTxEMAIL"
FEEDBACK_URL = "PRxFEEDBACKx{}x"  # the n-th card's (1-based); "x" ends it: 1x is not 10x


def feedback_token(number: int) -> str:
    return FEEDBACK_URL.format(number)


# What a filled-in value may be keyed by: letters, digits, "_" and "-" (they survive premailer's
# URL-encoding), long enough never to occur in ordinary text by accident.
SHAPE = re.compile(r"[A-Za-z0-9_-]{6,80}")


@dataclass(frozen=True)
class DigestLinks:
    """A reader's personal links in a digest: the only text two readers of a segment differ in.
    `feedback_urls` are the cards' feedback links in card order (none: a digest without
    feedback actions, such as the archive's)."""

    unsubscribe_url: str
    preferences_url: str
    view_in_browser_url: str
    feedback_urls: tuple[str, ...] = ()

    def values(self) -> Mapping[str, str]:
        values = {
            UNSUBSCRIBE_URL: self.unsubscribe_url,
            PREFERENCES_URL: self.preferences_url,
            BROWSER_URL: self.view_in_browser_url,
        }
        for number, url in enumerate(self.feedback_urls, start=1):
            values[feedback_token(number)] = url
        return values


@dataclass(frozen=True)
class ConfirmationFields:
    """What one confirmation mail is filled with."""

    confirm_url: str
    email: str

    def values(self) -> Mapping[str, str]:
        return {CONFIRM_URL: self.confirm_url, RECIPIENT_EMAIL: self.email}


def for_templates() -> SimpleNamespace:
    """What templates call `ph`: `{{ ph.unsubscribe_url }}`, `{{ ph.paper_start(i) }}`..., so
    the templates spell no placeholder themselves."""
    return SimpleNamespace(
        paper_number=PAPER_NUMBER,
        paper_count=PAPER_COUNT,
        ranking=RANKING,
        paper_section=PAPER_SECTION,
        paper_reason=PAPER_REASON,
        paper_feedback=PAPER_FEEDBACK,
        paper_start=PAPER_START.format,
        papers_end=PAPERS_END,
        unsubscribe_url=UNSUBSCRIBE_URL,
        preferences_url=PREFERENCES_URL,
        browser_url=BROWSER_URL,
        confirm_url=CONFIRM_URL,
        recipient_email=RECIPIENT_EMAIL,
    )
