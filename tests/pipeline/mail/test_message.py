"""Golden tests for pipeline/mail/message.py: each message is parsed back by the stdlib."""

from __future__ import annotations

import base64
import binascii
import email
import re
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import dkim
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.mail.dkim import DkimSigner
from pipeline.mail.message import MessageTemplate, new_message_id
from pipeline.mail.qp import SplicedBody, encode_value

UNSUB = "PRTOKunsubscribeurl"
PREFS = "PRTOKpreferencesurl"
NAME = "PRTOKreadername"
UNSUB_URL = "https://papers.example.org/u/eyJzIjo0Mn0.Zx9-_aB3"
PREFS_URL = "https://papers.example.org/p/eyJzIjo0Mn0.Qw_8-x?from=mail"


def card(i: int) -> str:
    return (
        f'<tr><td style="padding:12px;font-family:Georgia,serif;color:#222"><a href="https://'
        f'arxiv.org/abs/2501.{i:05d}" style="color:#0b5;text-decoration:none;font-weight:bold">'
        f'Paper {i}: Gradient flows on Wasserstein space — Ünïcödé ∑ title</a><p style="margin:'
        f'4px 0;font-size:14px;line-height:1.5">'
        + "An abstract sentence with = signs. " * 12
        + "</p></td></tr>\n"
    )


HTML = (
    '<!doctype html><html><head><meta charset="utf-8"></head><body>'
    + "".join(card(i) for i in range(135))
    + f'<p>Hello {NAME},</p><a href="{UNSUB}">Unsubscribe</a> | <a href="{PREFS}">Prefs</a>'
    + "</body></html>"
)
TEXT = (
    f"Hello {NAME},\n\n"
    + "".join(
        f"{i}. Paper {i}: Gradient flows — Ünïcödé\n   https://arxiv.org/abs/2501.{i:05d}\n"
        for i in range(10)
    )
    + f"\nUnsubscribe: {UNSUB}\nPreferences: {PREFS}\n"
)


def make_template(**overrides: str) -> MessageTemplate:
    kwargs: dict[str, Any] = {
        "html": HTML,
        "text": TEXT,
        "subject": "Trending papers for Tuesday",
        "from_addr": "digest@papers.example.org",
        "from_name": "Paperround",
        "list_id": "Paperround daily <daily.papers.example.org>",
        "feedback_id": "daily:edition42:paperround",
        "sender_domain": "papers.example.org",
    }
    kwargs.update(overrides)
    return MessageTemplate.build(**kwargs)


def render(template: MessageTemplate, **overrides: object) -> bytes:
    kwargs: dict[str, object] = {
        "to_addr": "ada@example.net",
        "personal": {UNSUB: UNSUB_URL, PREFS: PREFS_URL, NAME: "Ada"},
        "unsubscribe_url": UNSUB_URL,
        "unsubscribe_mailto": "mailto:unsubscribe@papers.example.org?subject=u42",
        "date": datetime(2025, 11, 25, 7, 30, tzinfo=UTC),
    }
    kwargs.update(overrides)
    return template.render_for(**kwargs)  # type: ignore[arg-type]


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert not message.defects, message.defects
    for part in message.walk():
        assert not part.defects, part.defects
    return message


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def test_golden_parse_back_has_exact_bodies_and_headers() -> None:
    raw = render(make_template(), message_id="<abc123@papers.example.org>")
    message = parse(raw)

    assert body(message, "plain") == TEXT.replace(UNSUB, UNSUB_URL).replace(
        PREFS, PREFS_URL
    ).replace(NAME, "Ada")
    # In HTML the values are escaped: "&" in an href is "&amp;" (HTML 5 section 13.1.4).
    assert body(message, "html") == HTML.replace(UNSUB, UNSUB_URL).replace(
        PREFS, PREFS_URL.replace("&", "&amp;")
    ).replace(NAME, "Ada")
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message.get_content_type() == "multipart/alternative"

    assert str(message["From"]) == "Paperround <digest@papers.example.org>"
    assert str(message["To"]) == "ada@example.net"
    assert str(message["Subject"]) == "Trending papers for Tuesday"
    assert message["Date"].datetime == datetime(2025, 11, 25, 7, 30, tzinfo=UTC)
    assert str(message["Message-ID"]) == "<abc123@papers.example.org>"
    assert str(message["MIME-Version"]) == "1.0"
    assert str(message["List-Id"]) == "Paperround daily <daily.papers.example.org>"
    assert str(message["List-Unsubscribe"]) == (
        f"<{UNSUB_URL}>, <mailto:unsubscribe@papers.example.org?subject=u42>"
    )
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert str(message["Feedback-ID"]) == "daily:edition42:paperround"
    names = [name for name, _ in message.items()]
    assert names[:3] == ["From", "To", "Subject"]
    assert len(names) == len(set(names))


def test_message_is_7bit_crlf_with_short_lines() -> None:
    raw = render(make_template())
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 78
    assert raw.endswith(b"--\r\n")


def test_each_reader_gets_own_values_and_message_id() -> None:
    template = make_template()
    first = parse(
        render(
            template,
            to_addr="a@example.net",
            personal={UNSUB: "https://x.example/u/A", PREFS: "https://x.example/p/A", NAME: "Ann"},
        )
    )
    second = parse(
        render(
            template,
            to_addr="b@example.net",
            personal={UNSUB: "https://x.example/u/B", PREFS: "https://x.example/p/B", NAME: "Bob"},
        )
    )
    assert "https://x.example/u/A" in body(first, "html")
    assert "https://x.example/u/B" not in body(first, "html")
    assert "Hello Bob," in body(second, "plain")
    assert first["Message-ID"] != second["Message-ID"]
    assert re.fullmatch(r"<[0-9a-f]{32}@papers\.example\.org>", str(first["Message-ID"]))


def test_html_values_are_escaped_but_text_values_are_not() -> None:
    template = make_template()
    name = 'Eve <script>"x"</script> & co'
    message = parse(render(template, personal={UNSUB: UNSUB_URL, PREFS: PREFS_URL, NAME: name}))
    assert f"Hello {name}," in body(message, "plain")
    assert "<script>" not in body(message, "html")
    assert "Eve &lt;script&gt;&quot;x&quot;&lt;/script&gt; &amp; co" in body(message, "html")


@pytest.mark.parametrize(
    "subject",
    [
        "Ünïcode papers — 10 new: ∑ attention",
        "Plain but very long subject line " * 6,
        "=?utf-8?q?looks_encoded?= but is not",
        "日本語の論文 " * 8,
    ],
)
def test_subject_round_trips_through_encoded_words(subject: str) -> None:
    raw = render(make_template(subject=subject))
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 78
    assert str(parse(raw)["Subject"]) == subject
    if not subject.isascii():
        assert b"=?utf-8?" in head


@pytest.mark.parametrize("name", ['Paper "Round", Inc.', "Päper Ründ", ""])
def test_from_display_name_round_trips(name: str) -> None:
    address = parse(render(make_template(from_name=name)))["From"].addresses[0]
    assert address.display_name == name
    assert address.addr_spec == "digest@papers.example.org"


def test_long_display_name_spans_encoded_words_per_rfc_2047() -> None:
    """A long name needs several encoded words. RFC 2047 section 6.2 says the whitespace
    between them is ignored; the stdlib address parser inserts spaces there instead, so the
    name is checked with the RFC 2047 decoder (the one mail clients follow)."""
    name = "日本の論文 " * 30
    raw = render(make_template(from_name=name))
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert max(len(line) for line in head.split("\r\n")) <= 78
    folded = head.split("From: ", 1)[1].split("\r\nTo: ", 1)[0]
    display, _, address = folded.rpartition("<")
    assert address == "digest@papers.example.org>"
    assert str(make_header(decode_header(display))) == name
    assert parse(raw)["From"].addresses[0].addr_spec == "digest@papers.example.org"


def test_mailto_is_optional() -> None:
    message = parse(render(make_template(), unsubscribe_mailto=""))
    assert str(message["List-Unsubscribe"]) == f"<{UNSUB_URL}>"


HOSTILE = [
    ("build", "subject", "Hello\r\nBcc: victim@example.com", "subject contains control"),
    ("build", "subject", "Hello\nX: y", "subject contains control"),
    ("build", "subject", "Tab\there", "subject contains control"),
    ("build", "subject", "Line\u2028sep", "subject contains control"),
    ("build", "subject", "x" * 501, "subject is 501 characters"),
    ("build", "from_name", "Eve\r\nBcc: a@b.c", "from_name contains control"),
    ("build", "from_addr", "eve@example.org\r\nBcc: a@b.c", "from_addr contains control"),
    ("build", "from_addr", "Eve <eve@example.org>", "from_addr .* not an address"),
    ("build", "list_id", "list\r\n.example", "list_id contains control"),
    ("build", "feedback_id", "a:b\x00", "feedback_id contains control"),
    ("build", "sender_domain", "example.org\r\nX: y", "sender_domain contains control"),
    ("build", "sender_domain", "exa mple.org", "sender_domain .* not a domain"),
    ("render", "to_addr", "ada@example.net\r\nBcc: eve@example.com", "to_addr contains control"),
    ("render", "to_addr", "ada@example.net>, <eve@example.com", "to_addr .* not an address"),
    ("render", "to_addr", "ädä@example.net", "to_addr .* not ASCII"),
    ("render", "to_addr", "", "to_addr .* not an address"),
    ("render", "unsubscribe_url", "https://x.example/u\r\nBcc: e@x", "unsubscribe_url contains"),
    ("render", "unsubscribe_url", "https://x.example/u>, <https://evil", "unsubscribe_url .* '<'"),
    ("render", "unsubscribe_url", "javascript:alert(1)", "unsubscribe_url .* must start with"),
    ("render", "unsubscribe_mailto", "mailto:a@b\r\nX: y", "unsubscribe_mailto contains"),
    ("render", "message_id", "<a@b>\r\nBcc: e@x", "message_id contains control"),
    ("render", "message_id", "no-at-sign", "message_id .* not of the form"),
]


@pytest.mark.parametrize(("stage", "field", "value", "error"), HOSTILE)
def test_hostile_header_data_is_refused(stage: str, field: str, value: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        if stage == "build":
            make_template(**{field: value})
        else:
            render(make_template(), **{field: value})


def test_hostile_personal_values_and_placeholders_are_refused() -> None:
    template = make_template()
    with pytest.raises(ValueError, match=f"personal value for {NAME} contains control"):
        render(template, personal={UNSUB: UNSUB_URL, PREFS: PREFS_URL, NAME: "A\r\nB"})
    with pytest.raises(ValueError, match="placeholder 'a b' must be"):
        render(template, personal={"a b": "x"})
    with pytest.raises(ValueError, match="placeholder 'PRTOKmissing' occurs in neither"):
        render(template, personal={"PRTOKmissing": "x"})
    with pytest.raises(ValueError, match="date must be timezone-aware"):
        render(template, date=datetime(2025, 1, 1))


def test_date_keeps_its_offset() -> None:
    when = datetime(2025, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=2)))
    assert parse(render(make_template(), date=when))["Date"].datetime == when


def test_new_message_id_uses_the_sender_domain() -> None:
    assert new_message_id("papers.example.org").endswith("@papers.example.org>")
    with pytest.raises(ValueError, match="sender_domain"):
        new_message_id("bad domain")


# Property: splicing encoded values into pre-encoded chunks decodes to plain substitution.
_CONTROLS: list[Literal["Cc"]] = ["Cc"]
_texts = st.text(st.characters(codec="utf-8"), max_size=300)
_values = st.text(st.characters(codec="utf-8", exclude_categories=_CONTROLS), max_size=120)


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(_texts, min_size=1, max_size=5),
    values=st.lists(_values, min_size=4, max_size=4),
)
def test_splicing_equals_substitution(pieces: list[str], values: list[str]) -> None:
    tokens = ["PRTOKaaaaaa", "PRTOKbbbbbb", "PRTOKcccccc", "PRTOKdddddd"]
    source = "".join(piece + tokens[i % 4] for i, piece in enumerate(pieces))
    spliced = SplicedBody(source, tokens)
    encoded = b"".join(
        spliced.render({t: encode_value(v) for t, v in zip(tokens, values, strict=True)})
    )
    assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))
    expected = source
    for token, value in zip(tokens, values, strict=True):
        expected = expected.replace(token, value)
    decoded = binascii.a2b_qp(encoded).decode("utf-8").replace("\r\n", "\n")
    assert decoded == expected.replace("\r\n", "\n").replace("\r", "\n")


# Tokens found in the encoded bytes: some begin with the hex digits an "=XX" escape is made of,
# and long runs of text push soft line breaks into the middle of a token.
_HEXY_TOKENS = ["PRxFEEDBACKx1x", "PRxFEEDBACKx10x", "C3A9xxxx", "ABCDEF0123", "3DPRxURL"]
_hexy_texts = st.lists(
    st.one_of(
        st.text(st.sampled_from("aé=Ã© \t\n.x<>"), max_size=40),
        st.integers(0, 90).map(lambda n: "x" * n),
        st.sampled_from(["=", "é", "\u00a9", "=C3", " ", "\n", "PRxURL", "=PRxURL"]),
    ),
    max_size=8,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(
    pieces=st.lists(_hexy_texts, min_size=1, max_size=6),
    order=st.lists(st.sampled_from(_HEXY_TOKENS), min_size=6, max_size=6),
    values=st.lists(_values, min_size=5, max_size=5),
)
def test_splicing_finds_tokens_across_soft_breaks_and_beside_escapes(
    pieces: list[str], order: list[str], values: list[str]
) -> None:
    source = "".join(piece + order[i] for i, piece in enumerate(pieces))
    spliced = SplicedBody(source, _HEXY_TOKENS)
    filled = dict(zip(_HEXY_TOKENS, values, strict=True))
    encoded = b"".join(spliced.render({t: encode_value(v) for t, v in filled.items()}))
    assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))
    assert len(spliced.slots) == len(pieces)
    expected = "".join(piece + filled[order[i]] for i, piece in enumerate(pieces))
    decoded = binascii.a2b_qp(encoded).decode("utf-8").replace("\r\n", "\n")
    assert decoded == expected.replace("\r\n", "\n").replace("\r", "\n")


def test_an_escape_never_begins_a_token() -> None:
    # "=" is encoded "=3D": the text "=PRxURL" must not be read as the token "3DPRxURL".
    source = "a=PRxURL and 3DPRxURL\n"
    spliced = SplicedBody(source, ["3DPRxURL"])
    assert spliced.slots == ["3DPRxURL"]
    encoded = b"".join(spliced.render({"3DPRxURL": encode_value("V")}))
    assert binascii.a2b_qp(encoded) == b"a=PRxURL and V\r\n"


def test_a_token_cut_by_a_soft_line_break_is_still_one_slot() -> None:
    # 70 characters, then the token: the encoder breaks the line inside it.
    source = "y" * 70 + "PRxFEEDBACKx1x" + " tail\n"
    spliced = SplicedBody(source, ["PRxFEEDBACKx1x"])
    assert spliced.slots == ["PRxFEEDBACKx1x"]
    encoded = b"".join(spliced.render({"PRxFEEDBACKx1x": encode_value("https://e.org/f?t=1")}))
    assert binascii.a2b_qp(encoded) == b"y" * 70 + b"https://e.org/f?t=1 tail\r\n"


@settings(max_examples=200, deadline=None)
@given(
    text=st.lists(st.sampled_from([".", "\n.", "x" * 74, "é", " ", "\n", "..", "a"]), max_size=30),
    html=st.lists(st.sampled_from([".", "\n.", "y" * 75, "<p>", "\t", "\n", "=."]), max_size=30),
    value=st.text(st.sampled_from('.a/é="<'), min_size=1, max_size=200),
)
def test_no_line_of_a_message_starts_with_a_dot(
    text: list[str], html: list[str], value: str
) -> None:
    # What lets the transport skip dot-stuffing: a line "." would end SMTP DATA early.
    token = "PRTOKvalue"
    template = MessageTemplate.build(
        html=["".join(html), token, ".\n"],
        text=["".join(text) + token, "\n." + "z" * 80],
        subject=". a subject",
        from_addr="digest@papers.example.org",
        from_name=".Paperround",
        list_id="Paperround daily <daily.papers.example.org>",
        feedback_id="",
        sender_domain="papers.example.org",
    )
    message = render(template, personal={token: value}, unsubscribe_url="https://e.org/.u")
    assert not message.startswith(b".") and b"\n." not in message
    parsed = parse(message)
    assert body(parsed, "plain").startswith("".join(text).replace("\r", "\n") + value)


# --- DKIM ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """(private PEM, DNS TXT record) for a fresh RSA 2048 key made by the openssl CLI."""
    folder: Path = tmp_path_factory.mktemp("dkim")
    key = folder / "key.pem"
    subprocess.run(
        ["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True, timeout=60
    )
    public_der = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der)
    return key.read_bytes(), record


def test_dkim_signature_verifies_and_covers_list_unsubscribe(rsa_key: tuple[bytes, bytes]) -> None:
    private_pem, record = rsa_key
    asked: list[bytes] = []

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        asked.append(name)
        return record if name == b"pr2025._domainkey.papers.example.org." else b""

    signer = DkimSigner("pr2025", "papers.example.org", private_pem)
    signed = signer.sign(render(make_template(subject="Ünïcode — signed")))
    assert signed.startswith(b"DKIM-Signature:")
    assert b"\n." not in signed  # the signature's folded lines start with white space
    assert dkim.verify(signed, dnsfunc=dnsfunc)
    assert asked == [b"pr2025._domainkey.papers.example.org."]
    header = parse(signed)["DKIM-Signature"]
    tags = dict(part.strip().split("=", 1) for part in str(header).split(";") if "=" in part)
    signed_names = {name.strip() for name in tags["h"].split(":")}
    assert {
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
    } <= signed_names
    assert tags["c"] == "relaxed/simple"

    tampered = signed.replace(
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        b"List-Unsubscribe-Post: List-Unsubscribe=Two-Click",
    )
    assert not dkim.verify(tampered, dnsfunc=dnsfunc)
    added = signed.replace(b"\r\nTo: ", b"\r\nList-Unsubscribe: <https://evil.example>\r\nTo: ", 1)
    assert not dkim.verify(added, dnsfunc=dnsfunc)


def test_dkim_signer_refuses_a_bad_key() -> None:
    with pytest.raises(ValueError, match="DKIM private key is not an RSA PEM key"):
        DkimSigner("sel", "example.org", "not a key")
    with pytest.raises(ValueError, match="DKIM selector"):
        DkimSigner("sel\r\n", "example.org", "not a key")


# --- size and cost ------------------------------------------------------------------------


def test_size_overhead_is_bounded() -> None:
    raw = render(make_template())
    source = len(HTML.encode()) + len(TEXT.encode())
    assert 95_000 < len(HTML.encode()) < 110_000
    # QP turns each "=" into "=3D" and adds a soft break per 76 characters.
    assert len(raw) < source * 1.2, (len(raw), source)


def test_the_body_is_encoded_once_per_placeholder_set_not_per_reader() -> None:
    """What keeps a reader's copy cheap (the figures are in docs/benchmarks.md): the body is
    split and encoded on the first render only; later readers reuse those chunks."""
    template = make_template()
    first = render(template)
    plans = dict(template._plans)
    assert len(plans) == 1
    for n in range(20):
        render(template, unsubscribe_url=f"https://papers.example.org/u/{n}")
    assert template._plans == plans  # the same encoded chunks, not re-encoded per reader
    assert render(template) != first  # (each copy still gets its own Message-ID and Date)
