"""Quoted-printable encoding line by line (with its cache): it decodes to the text, keeps
every line within RFC 2045's 76 characters (binascii alone can make one 77) and starts none
with "." (so SMTP needs no dot-stuffing)."""

from __future__ import annotations

import binascii

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.mail.qp import encode_value, qp_encode, wrap_literal


def normalized(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def whole(text: str) -> bytes:
    data = normalized(text).encode("utf-8")
    return binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")


def lines_ok(encoded: bytes) -> None:
    lines = encoded.split(b"\r\n")
    assert max(map(len, lines)) <= 76
    assert not any(line.startswith(b".") for line in lines)
    assert encoded == b"" or encoded.endswith(b"\r\n")  # ends at the start of a line


def check(text: str) -> None:
    encoded = qp_encode(text)
    lines_ok(encoded)
    assert binascii.a2b_qp(encoded).decode("utf-8").replace("\r\n", "\n") == normalized(text)


@settings(max_examples=500)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet=st.sampled_from("ab =\t\n\r.é€\u2028x<>\"'"), max_size=60),
            st.integers(60, 80).map(lambda n: "x" * n),
            st.sampled_from(["\n.", "\n..x", ".", "\n.\n"]),
        ),
        max_size=8,
    ).map("".join)
)
def test_encoding_decodes_to_the_text_within_the_line_rules(text: str) -> None:
    check(text)
    check(text)  # again, now served from the line cache


def test_long_lines_trailing_space_and_no_final_newline() -> None:
    for text in ("x" * 500 + " \n" + "=" * 100 + "\t\n\nend ", "", "\n", "a\r\nb\rc\n", " "):
        check(text)


def test_a_trailing_space_never_makes_a_line_of_77() -> None:
    for text in ("x" * 74 + " \n", "é" * 12 + "x" * 2 + "\t\n", "x" * 71 + "= \n"):
        assert max(map(len, whole(text).split(b"\r\n"))) == 77  # what binascii gives
        check(text)
    check("x" * 74 + " ")


def test_a_dot_never_starts_a_line() -> None:
    # At a text line's start, and where a long line is broken: "." is written "=2E" there.
    for text in (".hidden\n", ".\n", "x" * 75 + ".tail\n", "x" * 74 + "é.\n", "a\n.b\n"):
        check(text)
    assert qp_encode(".hidden\n") == b"=2Ehidden\r\n"


@settings(max_examples=300)
@given(st.text(st.sampled_from("abc./:?-_~%#0123456789"), max_size=400))
def test_values_are_soft_broken_and_never_start_a_line_with_a_dot(value: str) -> None:
    encoded = encode_value(value)
    lines_ok(encoded)
    assert binascii.a2b_qp(encoded).decode("ascii") == value
    if value:
        assert encoded.endswith(b"=\r\n")
        assert wrap_literal(value.encode("ascii")) == encoded
