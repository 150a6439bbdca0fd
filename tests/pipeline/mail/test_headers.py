"""pipeline.mail.headers: header values are checked, folded and encoded, never injected."""

from __future__ import annotations

import email
import email.policy
from email.header import decode_header, make_header

import pytest

from pipeline.mail.headers import (
    MAX_LINE,
    check_address,
    check_line,
    check_uri,
    from_header,
    normalize_message_id,
    subject_header,
)

# --- check_line ------------------------------------------------------------------------------

BAD_CHARACTERS = [
    "\r",
    "\n",
    "\r\n",
    "\x00",
    "\t",
    "\x1b",
    "\x1f",
    "\x7f",  # DEL
    "\x80",  # C1
    "\x85",  # NEL
    "\x9f",  # C1
    "\u2028",  # LINE SEPARATOR
    "\u2029",  # PARAGRAPH SEPARATOR
]


@pytest.mark.parametrize("bad", BAD_CHARACTERS, ids=[f"U+{ord(c[0]):04X}" for c in BAD_CHARACTERS])
def test_check_line_refuses_control_characters_naming_the_field(bad: str) -> None:
    value = f"Hello{bad}Bcc: victim@example.org"
    with pytest.raises(ValueError, match=r"^list_id contains control character") as caught:
        check_line("list_id", value)
    assert "at position 5" in str(caught.value)


@pytest.mark.parametrize("bad", ["\r", "\n", "\x00"])
def test_check_line_refuses_a_control_character_at_either_end(bad: str) -> None:
    for value in (bad + "x", "x" + bad, bad):
        with pytest.raises(ValueError, match=r"^subject contains control character"):
            check_line("subject", value)


@pytest.mark.parametrize(
    "good", ["", "Plain text", "Grüße, 東京 — «quotes»", "=?utf-8?q?x?=", "a" * 900]
)
def test_check_line_returns_good_values_unchanged(good: str) -> None:
    assert check_line("subject", good) == good


def test_check_line_length_limit() -> None:
    assert check_line("name", "a" * 10, max_length=10) == "a" * 10
    with pytest.raises(ValueError, match=r"^name is 11 characters long; the limit is 10$"):
        check_line("name", "a" * 11, max_length=10)
    with pytest.raises(ValueError, match=r"^name is 901 characters long"):
        check_line("name", "a" * 901)


def test_check_line_refuses_non_strings() -> None:
    with pytest.raises(ValueError, match=r"^name must be a string, not bytes"):
        check_line("name", b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^name must be a string, not NoneType"):
        check_line("name", None)  # type: ignore[arg-type]


# --- check_address ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "good",
    [
        "ann@example.org",
        "Ann.Lee+digest@mail.example.co.uk",
        "o'brien@example.org",
        "a@b",
        "x" * 64 + "@example.org",
        "ann@xn--bcher-kva.example",
    ],
)
def test_check_address_accepts_plain_ascii_addresses(good: str) -> None:
    assert check_address("to", good) == good


@pytest.mark.parametrize(
    "bad",
    [
        "jörg@example.org",
        "ann@bücher.example",
        '"ann lee"@example.org',
        '"ann"@example.org',
        "x" * 65 + "@example.org",
        "ann@",
        "ann",
        "@example.org",
        "ann@@example.org",
        "ann@example..org",
        "ann@-example.org",
        ".ann@example.org",
        "ann.@example.org",
        "ann lee@example.org",
        "Ann <ann@example.org>",
        "ann@example.org, bob@example.org",
        "",
    ],
)
def test_check_address_refuses_anything_but_local_at_domain(bad: str) -> None:
    with pytest.raises(ValueError, match=r"^to "):
        check_address("to", bad)


def test_check_address_messages() -> None:
    with pytest.raises(ValueError, match="is not ASCII; SMTPUTF8 addresses are not supported"):
        check_address("from_addr", "jörg@example.org")
    with pytest.raises(ValueError, match="is not an address of the form local@domain"):
        check_address("from_addr", "x" * 65 + "@example.org")
    with pytest.raises(ValueError, match=r"^from_addr contains control character"):
        check_address("from_addr", "ann@example.org\r\nBcc: x@y.org")
    with pytest.raises(ValueError, match=r"^from_addr is 255 characters long"):
        check_address("from_addr", "a@" + "b" * 253)


# --- check_uri --------------------------------------------------------------------------------

SCHEMES = ("https://", "mailto:")


@pytest.mark.parametrize(
    "good",
    [
        "https://paperround.example/u/eyJzIjoxfQ.Zx-9aQ?list=daily&x=%22",
        "HTTPS://paperround.example/u",
        "mailto:unsubscribe@paperround.example?subject=unsubscribe",
    ],
)
def test_check_uri_accepts_list_unsubscribe_uris(good: str) -> None:
    assert check_uri("list_unsubscribe", good, SCHEMES) == good


@pytest.mark.parametrize(
    "bad",
    [
        "https://paperround.example/u x",
        "https://paperround.example/u<x",
        "https://paperround.example/u>x",
        "https://paperround.example/u,x",
        'https://paperround.example/u"x',
        "https://paperround.example/ü",
    ],
)
def test_check_uri_refuses_delimiters_and_non_ascii(bad: str) -> None:
    with pytest.raises(ValueError, match=r"^list_unsubscribe .* may only hold printable ASCII"):
        check_uri("list_unsubscribe", bad, SCHEMES)


@pytest.mark.parametrize(
    "bad",
    [
        "http://paperround.example/u",
        "javascript:alert(1)",
        "ftp://paperround.example/u",
        "//paperround.example/u",
        "paperround.example/u",
        " https://paperround.example/u",
        "",
    ],
)
def test_check_uri_refuses_other_schemes(bad: str) -> None:
    with pytest.raises(
        ValueError, match=r"^list_unsubscribe .* must start with https:// or mailto:"
    ):
        check_uri("list_unsubscribe", bad, SCHEMES)


def test_check_uri_refuses_line_breaks_first() -> None:
    with pytest.raises(ValueError, match=r"^list_unsubscribe contains control character"):
        check_uri("list_unsubscribe", "https://x.example/\r\nBcc: a@b.org", SCHEMES)


# --- Message-ID -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("abc.123@paperround.example", "<abc.123@paperround.example>"),
        ("<abc.123@paperround.example>", "<abc.123@paperround.example>"),
        ("e-7.r-3+x@host", "<e-7.r-3+x@host>"),
    ],
)
def test_normalize_message_id_adds_brackets_once(given: str, expected: str) -> None:
    assert normalize_message_id(given) == expected
    assert normalize_message_id(normalize_message_id(given)) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "<>",
        "no-at-sign",
        "<no-at-sign>",
        "<a@b",
        "a@b>",
        "<<a@b>>",
        "a b@c",
        "a@b c",
        "a@b@c",
        "@b",
        "a@",
        "<a@b>\r\nBcc: x@y.org",
        "a" * 300 + "@b",
    ],
)
def test_normalize_message_id_refuses_garbage(bad: str) -> None:
    with pytest.raises(ValueError, match=r"^message_id"):
        normalize_message_id(bad)


# --- Subject -----------------------------------------------------------------------------------


def _lines(header: bytes) -> list[str]:
    text = header.decode("ascii")
    assert text.endswith("\r\n") and "\r\n\r\n" not in text
    return text[:-2].split("\r\n")


def _value(header: bytes, name: str) -> str:
    """The header's value as a reader's client shows it (unfolded, RFC 2047 decoded)."""
    unfolded = "".join(_lines(header))
    assert unfolded.startswith(f"{name}: ")
    return str(make_header(decode_header(unfolded[len(name) + 2 :])))


def _parsed(header: bytes, name: str) -> str:
    message = email.message_from_bytes(header + b"\r\nbody\r\n", policy=email.policy.default)
    assert message.defects == []
    return str(message[name])


def test_short_ascii_subject_is_one_plain_line() -> None:
    assert subject_header("Today's trending papers") == b"Subject: Today's trending papers\r\n"


@pytest.mark.parametrize(
    "subject",
    [
        " ".join(["trending"] * 30),
        "Paperround daily digest, Thursday, 26 November 2026: 12 trending papers on "
        "retrieval-augmented generation, diffusion and graph neural networks",
        "a " * 60 + "end",
        "x" * 60 + " " + "y" * 70 + " z",
    ],
)
def test_long_ascii_subject_folds_at_spaces(subject: str) -> None:
    header = subject_header(subject)
    lines = _lines(header)
    assert len(lines) > 1
    assert all(line.startswith(" ") for line in lines[1:])  # continuation lines
    assert all(len(line) <= MAX_LINE for line in lines)
    assert "".join(lines) == f"Subject: {subject}"  # unfolding gives back the exact text
    assert "=?" not in header.decode("ascii")
    assert _parsed(header, "Subject") == subject


def test_a_word_longer_than_a_line_stays_whole() -> None:
    word = "w" * 120
    lines = _lines(subject_header(f"short {word} tail"))
    assert lines == ["Subject: short", f" {word}", " tail"]
    lines = _lines(subject_header(word))
    assert "".join(lines) == f"Subject: {word}"  # unfolds to the text (nowhere to fold it)


@pytest.mark.parametrize(
    "subject",
    ["a" * 69 + "  b", "a" * 69 + " ", "word " * 14],
    ids=["double-space", "trailing-space", "trailing-space-after-words"],
)
def test_folding_never_makes_a_line_of_only_white_space(subject: str) -> None:
    # "Subject: " + 69 letters (or 14 " word"s) is exactly 78 characters: a trailing space must
    # not be folded onto a line of its own (RFC 5322 3.2.2 and 4.2: such lines are obsolete
    # syntax, which must not be generated).
    lines = _lines(subject_header(subject))
    assert "".join(lines) == f"Subject: {subject}"
    assert all(line.strip() for line in lines), lines


@pytest.mark.parametrize(
    "subject",
    [
        "Grüße aus Köln",
        "東京の論文ダイジェスト",
        "Émile — 12 papers, «diffusion» & more " * 6,
        "=?utf-8?q?looks_encoded?=",
        "plain but contains =? somewhere",
        "Ünïcode " + "x" * 100,
    ],
)
def test_non_ascii_and_encoded_word_lookalikes_are_rfc2047_encoded(subject: str) -> None:
    header = subject_header(subject)
    text = header.decode("ascii")  # 7-bit only
    assert "=?utf-8?" in text
    assert all(len(line) <= MAX_LINE for line in _lines(header))
    assert _value(header, "Subject") == subject
    assert _parsed(header, "Subject") == subject


@pytest.mark.parametrize("bad", ["Hi\r\nBcc: victim@example.org", "Hi\nthere", "Hi\x00", "x" * 501])
def test_subject_refuses_bad_values(bad: str) -> None:
    with pytest.raises(ValueError, match=r"^subject "):
        subject_header(bad)


# --- From ---------------------------------------------------------------------------------------


def test_from_without_a_name_is_the_bare_address() -> None:
    assert from_header("", "digest@paperround.example") == b"From: digest@paperround.example\r\n"


def test_from_with_a_plain_name() -> None:
    header = from_header("Paperround", "digest@paperround.example")
    assert header == b"From: Paperround <digest@paperround.example>\r\n"


@pytest.mark.parametrize("name", ["Doe, Ann", 'Ann "the reader" Doe', "Ann (admin)", "A; B: C"])
def test_from_quotes_a_name_with_specials(name: str) -> None:
    header = from_header(name, "ann@example.org")
    text = header.decode("ascii")
    assert text.startswith('From: "')
    message = email.message_from_bytes(header + b"\r\n", policy=email.policy.default)
    (address,) = message["From"].addresses
    assert (address.display_name, address.addr_spec) == (name, "ann@example.org")


@pytest.mark.parametrize("name", ["Jörg's Papers", "論文", "=?utf-8?q?x?=", "Ünï, Côde"])
def test_from_encodes_a_non_ascii_name(name: str) -> None:
    header = from_header(name, "ann@example.org")
    text = header.decode("ascii")
    assert text.startswith("From: =?utf-8?")
    assert all(len(line) <= MAX_LINE for line in _lines(header))
    message = email.message_from_bytes(header + b"\r\n", policy=email.policy.default)
    (address,) = message["From"].addresses
    assert (address.display_name, address.addr_spec) == (name, "ann@example.org")


@pytest.mark.parametrize(
    ("name", "address", "field"),
    [
        ("Ann\r\nBcc: x@y.org", "ann@example.org", "from_name"),
        ("n" * 201, "ann@example.org", "from_name"),
        ("Ann", "ann@example.org\r\n", "from_addr"),
        ("Ann", "jörg@example.org", "from_addr"),
        ("Ann", "not an address", "from_addr"),
    ],
)
def test_from_refuses_bad_parts(name: str, address: str, field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field} "):
        from_header(name, address)
