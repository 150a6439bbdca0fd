"""Line-by-line quoted-printable encoding (with its cache) equals encoding the whole text."""

from __future__ import annotations

import binascii

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.mail.qp import qp_encode


def whole(text: str) -> bytes:
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")


@settings(max_examples=500)
@given(st.text(alphabet=st.sampled_from("ab =\t\n\r.é€\u2028x<>\"'"), max_size=400))
def test_line_by_line_equals_whole_text(text: str) -> None:
    assert qp_encode(text) == whole(text)
    assert qp_encode(text) == whole(text)  # again, now served from the line cache


def test_long_lines_trailing_space_and_no_final_newline() -> None:
    for text in ("x" * 500 + " \n" + "=" * 100 + "\t\n\nend ", "", "\n", "a\r\nb\rc\n", " "):
        assert qp_encode(text) == whole(text)
