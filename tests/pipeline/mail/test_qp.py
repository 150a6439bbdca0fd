"""Line-by-line quoted-printable encoding (with its cache) equals encoding the whole text,
except that no line is longer than RFC 2045's 76 characters (binascii can make one 77)."""

from __future__ import annotations

import binascii

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.mail.qp import qp_encode


def normalized(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def whole(text: str) -> bytes:
    data = normalized(text).encode("utf-8")
    return binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")


def check(text: str) -> None:
    encoded = qp_encode(text)
    assert max(map(len, encoded.split(b"\r\n"))) <= 76
    assert binascii.a2b_qp(encoded).decode("utf-8").replace("\r\n", "\n") == normalized(text)
    reference = whole(text)
    if max(map(len, reference.split(b"\r\n"))) <= 76:
        assert encoded == reference


@settings(max_examples=500)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet=st.sampled_from("ab =\t\n\r.é€\u2028x<>\"'"), max_size=60),
            st.integers(60, 80).map(lambda n: "x" * n),
        ),
        max_size=8,
    ).map("".join)
)
def test_line_by_line_equals_whole_text(text: str) -> None:
    check(text)
    check(text)  # again, now served from the line cache


def test_long_lines_trailing_space_and_no_final_newline() -> None:
    for text in ("x" * 500 + " \n" + "=" * 100 + "\t\n\nend ", "", "\n", "a\r\nb\rc\n", " "):
        check(text)


def test_a_trailing_space_never_makes_a_line_of_77() -> None:
    for text in ("x" * 74 + " \n", "é" * 12 + "x" * 2 + "\t\n", "x" * 71 + "= \n"):
        assert max(map(len, whole(text).split(b"\r\n"))) == 77  # what binascii gives
        check(text)
    check("x" * 74 + " ")  # at the end of the text binascii gets it right
