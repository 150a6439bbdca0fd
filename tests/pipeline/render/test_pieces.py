"""pipeline.render.pieces and placeholders: markers, split and join, the placeholder names."""

from __future__ import annotations

import re

import pytest

from pipeline.render import placeholders
from pipeline.render.pieces import Piece, split_document
from pipeline.render.placeholders import (
    BROWSER_URL,
    CONFIRM_URL,
    HTML_PAPER_START,
    HTML_PAPERS_END,
    PAPER_COUNT,
    PAPER_NUMBER,
    PAPER_START,
    PAPERS_END,
    PREFERENCES_URL,
    PREFIX,
    RECIPIENT_EMAIL,
    SHAPE,
    TEXT_PAPER_START,
    TEXT_PAPERS_END,
    UNSUBSCRIBE_URL,
    ConfirmationFields,
    DigestLinks,
    for_templates,
)

HEAD = f"<html><p>{PAPER_COUNT} papers today</p>\n"
TAIL = "<footer>That was all.</footer></html>\n"


def fragment(i: int) -> str:
    return f"<h2>{PAPER_NUMBER}. Paper {i} \u2013 é</h2><p>one of {PAPER_COUNT}</p>\n"


def html_document(n: int) -> str:
    body = "".join(HTML_PAPER_START.format(i) + fragment(i) for i in range(n))
    return HEAD + body + HTML_PAPERS_END + TAIL


def marker_free(n: int) -> str:
    return HEAD + "".join(fragment(i) for i in range(n)) + TAIL


# --- the marker constants ----------------------------------------------------------------


def test_marker_constants_are_the_documented_spellings() -> None:
    assert PAPER_START.format(3) == "PRxPAPERxSTARTx3"
    assert PAPERS_END == "PRxPAPERSxEND"
    assert HTML_PAPER_START.format(3) == "<!--PRxPAPERxSTARTx3-->"
    assert HTML_PAPERS_END == "<!--PRxPAPERSxEND-->"
    assert TEXT_PAPER_START.format(3) == "PRxPAPERxSTARTx3\n"
    assert TEXT_PAPERS_END == "PRxPAPERSxEND\n"


def test_start_markers_of_different_papers_are_not_prefixes_of_each_other() -> None:
    for start in (HTML_PAPER_START, TEXT_PAPER_START):
        assert start.format(1) not in start.format(10)
        assert start.format(1) not in start.format(11)


# --- split_document ----------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 3, 12])
def test_split_reproduces_the_marker_free_document_byte_for_byte(n: int) -> None:
    document, clean = split_document(html_document(n), n, HTML_PAPER_START, HTML_PAPERS_END)
    assert clean == marker_free(n)
    assert PREFIX + "PAPERxSTART" not in clean and PAPERS_END not in clean
    assert len(document.fragments) == n
    # the pieces hold exactly the marker-free text, slots included
    pieces = [document.head, *document.fragments, document.tail]
    assert "".join("".join(piece.parts) for piece in pieces) == clean


def test_split_text_markers() -> None:
    text = "Head\n" + "".join(
        TEXT_PAPER_START.format(i) + f"{PAPER_NUMBER}. paper {i}\n" for i in range(11)
    )
    text += TEXT_PAPERS_END + "Tail\n"
    document, clean = split_document(text, 11, TEXT_PAPER_START, TEXT_PAPERS_END)
    assert clean == "Head\n" + "".join(f"{PAPER_NUMBER}. paper {i}\n" for i in range(11)) + "Tail\n"
    # paper 1's marker must not be taken for the start of paper 10's
    assert (
        document.join([10, 1], {PAPER_COUNT: "2 papers"}) == "Head\n1. paper 10\n2. paper 1\nTail\n"
    )


def test_join_numbers_the_chosen_fragments_and_fills_the_count() -> None:
    document, _ = split_document(html_document(4), 4, HTML_PAPER_START, HTML_PAPERS_END)
    joined = document.join([2, 0, 3], {PAPER_COUNT: "3 papers"})
    expected = (
        "<html><p>3 papers papers today</p>\n"
        "<h2>1. Paper 2 \u2013 é</h2><p>one of 3 papers</p>\n"
        "<h2>2. Paper 0 \u2013 é</h2><p>one of 3 papers</p>\n"
        "<h2>3. Paper 3 \u2013 é</h2><p>one of 3 papers</p>\n" + TAIL
    )
    assert joined == expected
    assert PREFIX not in joined


def test_join_of_all_in_order_is_the_filled_marker_free_document() -> None:
    document, clean = split_document(html_document(5), 5, HTML_PAPER_START, HTML_PAPERS_END)
    joined = document.join(range(5), {PAPER_COUNT: "five"})
    numbered = clean.replace(PAPER_COUNT, "five")
    for number in range(1, 6):
        numbered = numbered.replace(PAPER_NUMBER, str(number), 1)
    assert joined == numbered


def test_join_with_no_papers_is_head_and_tail() -> None:
    document, _ = split_document(html_document(2), 2, HTML_PAPER_START, HTML_PAPERS_END)
    assert (
        document.join([], {PAPER_COUNT: "no papers"})
        == HEAD.replace(PAPER_COUNT, "no papers") + TAIL
    )


def test_join_refuses_an_index_outside_the_edition() -> None:
    document, _ = split_document(html_document(2), 2, HTML_PAPER_START, HTML_PAPERS_END)
    with pytest.raises(IndexError):
        document.join([2], {PAPER_COUNT: "1 paper"})


def _document_without(n: int, drop: str) -> str:
    return html_document(n).replace(drop, "", 1)


@pytest.mark.parametrize(
    "text",
    [
        _document_without(3, HTML_PAPER_START.format(1)),  # a start marker missing
        _document_without(3, HTML_PAPERS_END),  # the end marker missing
        html_document(2),  # fewer papers than announced
        html_document(3).replace(HTML_PAPERS_END, HTML_PAPERS_END * 2),  # end repeated
        html_document(3).replace(
            HTML_PAPER_START.format(2), HTML_PAPER_START.format(2) + HTML_PAPER_START.format(2)
        ),  # a start repeated
        html_document(3) + HTML_PAPER_START.format(0),  # a start repeated after the end
        # papers 1 and 2 swapped
        html_document(3)
        .replace(HTML_PAPER_START.format(1), "@@")
        .replace(HTML_PAPER_START.format(2), HTML_PAPER_START.format(1))
        .replace("@@", HTML_PAPER_START.format(2)),
        # the end before the last paper
        html_document(3)
        .replace(HTML_PAPERS_END, "")
        .replace(HTML_PAPER_START.format(2), HTML_PAPERS_END + HTML_PAPER_START.format(2)),
        "",
    ],
    ids=[
        "start-missing",
        "end-missing",
        "too-few",
        "end-repeated",
        "start-repeated",
        "start-after-end",
        "swapped",
        "end-early",
        "empty",
    ],
)
def test_bad_markers_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="missing, repeated or out of order"):
        split_document(text, 3, HTML_PAPER_START, HTML_PAPERS_END)


def test_text_markers_are_not_found_by_html_markers() -> None:
    text = "Head\n" + TEXT_PAPER_START.format(0) + "x\n" + TEXT_PAPERS_END
    with pytest.raises(ValueError):
        split_document(text, 1, HTML_PAPER_START, HTML_PAPERS_END)


# --- Piece -----------------------------------------------------------------------------------


def test_piece_without_slots_is_returned_as_is() -> None:
    piece = Piece.parse("plain <b>text</b>")
    assert piece.parts == ("plain <b>text</b>",)
    assert piece.fill({}) == "plain <b>text</b>"


def test_piece_fill_replaces_every_slot() -> None:
    piece = Piece.parse(f"{PAPER_NUMBER} of {PAPER_COUNT}; again {PAPER_NUMBER}")
    assert piece.parts == ("", PAPER_NUMBER, " of ", PAPER_COUNT, "; again ", PAPER_NUMBER, "")
    assert piece.fill({PAPER_NUMBER: "2", PAPER_COUNT: "7"}) == "2 of 7; again 2"


def test_piece_fill_raises_key_error_for_a_slot_without_a_value() -> None:
    piece = Piece.parse(f"paper {PAPER_NUMBER} of {PAPER_COUNT}")
    with pytest.raises(KeyError, match=PAPER_COUNT):
        piece.fill({PAPER_NUMBER: "1"})
    with pytest.raises(KeyError):
        piece.fill({})


def test_piece_leaves_per_reader_placeholders_alone() -> None:
    piece = Piece.parse(f'<a href="{UNSUBSCRIBE_URL}">{PAPER_COUNT}</a>')
    assert piece.fill({PAPER_COUNT: "3"}) == f'<a href="{UNSUBSCRIBE_URL}">3</a>'


def test_piece_parse_with_a_custom_slot_pattern() -> None:
    piece = Piece.parse(f"Hi {RECIPIENT_EMAIL}!", re.compile(f"({RECIPIENT_EMAIL})"))
    assert piece.fill({RECIPIENT_EMAIL: "ann@example.org"}) == "Hi ann@example.org!"


# --- the placeholder vocabulary --------------------------------------------------------------

PLACEHOLDERS = [
    PAPER_NUMBER,
    PAPER_COUNT,
    placeholders.RANKING,
    placeholders.PAPER_SECTION,
    placeholders.PAPER_REASON,
    placeholders.PAPER_FEEDBACK,
    placeholders.feedback_token(1),
    placeholders.feedback_token(12),
    PAPERS_END,
    PAPER_START.format(0),
    PAPER_START.format(123),
    UNSUBSCRIBE_URL,
    PREFERENCES_URL,
    BROWSER_URL,
    CONFIRM_URL,
    RECIPIENT_EMAIL,
]


@pytest.mark.parametrize("token", PLACEHOLDERS)
def test_every_placeholder_has_the_shape_and_prefix(token: str) -> None:
    assert SHAPE.fullmatch(token)
    assert token.startswith(PREFIX)
    assert token.isascii() and token.isalnum()  # survives premailer's URL encoding


def test_every_string_constant_of_the_module_is_listed() -> None:
    constants = {
        value
        for name, value in vars(placeholders).items()
        if name.isupper()
        and isinstance(value, str)
        and value.startswith(PREFIX)
        and name != "PREFIX"
        and not name.startswith(("HTML_", "TEXT_"))  # the markers, wrapped
    }
    formatted = {
        PAPER_START.format(0),
        PAPER_START.format(123),
        placeholders.feedback_token(1),
        placeholders.feedback_token(12),
    }
    assert constants == set(PLACEHOLDERS) - formatted | {PAPER_START, placeholders.FEEDBACK_URL}


def test_placeholders_are_distinct_and_none_contains_another() -> None:
    tokens = [t for t in PLACEHOLDERS if "START" not in t]
    assert len(set(tokens)) == len(tokens)
    for a in tokens:
        for b in tokens:
            assert a == b or a not in b


def test_digest_links_values_are_keyed_by_the_placeholders() -> None:
    links = DigestLinks(
        unsubscribe_url="https://x.example/u",
        preferences_url="https://x.example/p",
        view_in_browser_url="https://x.example/b",
    )
    values = links.values()
    assert set(values) == {UNSUBSCRIBE_URL, PREFERENCES_URL, BROWSER_URL}
    assert values[UNSUBSCRIBE_URL] == "https://x.example/u"
    assert values[PREFERENCES_URL] == "https://x.example/p"
    assert values[BROWSER_URL] == "https://x.example/b"
    assert all(SHAPE.fullmatch(key) for key in values)


def test_confirmation_fields_values_are_keyed_by_the_placeholders() -> None:
    values = ConfirmationFields(confirm_url="https://x.example/c", email="ann@example.org").values()
    assert dict(values) == {CONFIRM_URL: "https://x.example/c", RECIPIENT_EMAIL: "ann@example.org"}
    assert all(SHAPE.fullmatch(key) for key in values)


def test_for_templates_exposes_every_placeholder() -> None:
    ph = for_templates()
    assert ph.unsubscribe_url == UNSUBSCRIBE_URL
    assert ph.preferences_url == PREFERENCES_URL
    assert ph.browser_url == BROWSER_URL
    assert ph.confirm_url == CONFIRM_URL
    assert ph.recipient_email == RECIPIENT_EMAIL
    assert ph.paper_number == PAPER_NUMBER
    assert ph.paper_count == PAPER_COUNT
    assert ph.papers_end == PAPERS_END
    assert ph.paper_start(7) == PAPER_START.format(7)
    per_reader = set(DigestLinks("a", "b", "c").values()) | set(
        ConfirmationFields("d", "e").values()
    )
    exposed = {value for value in vars(ph).values() if isinstance(value, str)}
    assert per_reader <= exposed
