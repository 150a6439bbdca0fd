"""pipeline.mail.capture_log: Message-IDs read from raw messages and the accepted-ids log file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.mail.capture_log import (
    LOG_NAME,
    accepted_ids,
    log_path,
    message_id_of,
    record_accepted,
)

BODY_WITH_ID = b"Forwarded:\r\nMessage-ID: <in-body@example.org>\r\n"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (b"Message-ID: <a.1@x.org>\r\nSubject: hi\r\n\r\nbody\r\n", "<a.1@x.org>"),
        (b"Subject: hi\r\nMessage-ID: <a.1@x.org>\r\n\r\nbody\r\n", "<a.1@x.org>"),
        (b"Subject: hi\r\nmessage-id: <a.1@x.org>\r\n\r\n", "<a.1@x.org>"),
        (b"Subject: hi\r\nMESSAGE-ID:<a.1@x.org>\r\n\r\n", "<a.1@x.org>"),
        (b"Subject: hi\r\nMessage-Id:\t <a.1@x.org>\r\n\r\n", "<a.1@x.org>"),
        (b"Subject: hi\nMessage-ID: <lf.only@x.org>\n\nbody\n", "<lf.only@x.org>"),
        (b"Message-ID: <no.body@x.org>\r\n", "<no.body@x.org>"),
        (b"Message-ID: <first@x.org>\r\nMessage-ID: <second@x.org>\r\n\r\n", "<first@x.org>"),
    ],
)
def test_message_id_is_found_in_the_header_block(message: bytes, expected: str) -> None:
    assert message_id_of(message) == expected


@pytest.mark.parametrize(
    "message",
    [
        b"Subject: hi\r\n\r\n" + BODY_WITH_ID,
        b"Subject: hi\n\n" + BODY_WITH_ID,
        b"Subject: hi\r\nX-Original-Message-ID: <other@x.org>\r\n\r\nbody",
        b"Subject: hi\r\nReferences: Message-ID: <ref@x.org>\r\n\r\n",
        b"Subject: hi\r\nMessage-ID: not-in-brackets@x.org\r\n\r\n",
        b"Subject: hi\r\nMessage-ID: <>\r\n\r\n",
        b"Subject: hi\r\nMessage-ID: <unterminated@x.org\r\n\r\n",
        b"",
        b"\r\n\r\nMessage-ID: <after-empty-headers@x.org>\r\n",
    ],
    ids=[
        "body-crlf",
        "body-lf",
        "other-header",
        "mid-line",
        "no-brackets",
        "empty",
        "unterminated",
        "empty-message",
        "no-headers",
    ],
)
def test_no_message_id_in_the_header_block_is_none(message: bytes) -> None:
    assert message_id_of(message) is None


def test_message_id_with_a_body_id_returns_the_header_one() -> None:
    message = b"Message-ID: <head@x.org>\r\n\r\n" + BODY_WITH_ID
    assert message_id_of(message) == "<head@x.org>"


def test_overlong_message_id_is_not_taken() -> None:
    longest = b"<" + b"a" * 248 + b"@x>"  # 250 characters inside the brackets
    assert message_id_of(b"Message-ID: " + longest + b"\r\n\r\n") == longest.decode()
    too_long = b"<" + b"a" * 249 + b"@x>"
    assert message_id_of(b"Message-ID: " + too_long + b"\r\n\r\n") is None


def test_record_and_read_back_creates_the_folder(tmp_path: Path) -> None:
    maildir = tmp_path / "capture" / "new-folder"
    assert accepted_ids(maildir) == set()
    assert not maildir.exists()  # reading creates nothing
    record_accepted(maildir, "<a@x.org>")
    record_accepted(maildir, "<b@x.org>")
    record_accepted(maildir, "<a@x.org>")
    assert log_path(maildir) == maildir / LOG_NAME
    assert accepted_ids(maildir) == {"<a@x.org>", "<b@x.org>"}
    assert log_path(maildir).read_text("ascii") == "<a@x.org>\n<b@x.org>\n<a@x.org>\n"


def test_log_is_appended_to_across_calls_and_ignores_blank_lines(tmp_path: Path) -> None:
    path = log_path(tmp_path)
    path.write_text("<old@x.org>\n\n  <spaced@x.org>  \n", "ascii")
    record_accepted(tmp_path, "<new@x.org>")
    assert accepted_ids(tmp_path) == {"<old@x.org>", "<spaced@x.org>", "<new@x.org>"}


def test_a_message_id_taken_from_a_message_round_trips(tmp_path: Path) -> None:
    message = b"From: a@x.org\r\nMessage-ID: <e7.r3.1@paperround.example>\r\n\r\nHello\r\n"
    found = message_id_of(message)
    assert found is not None
    record_accepted(tmp_path, found)
    assert found in accepted_ids(tmp_path)
    assert "<other@paperround.example>" not in accepted_ids(tmp_path)


def test_non_ascii_bytes_do_not_break_the_log(tmp_path: Path) -> None:
    found = message_id_of("Message-ID: <ü@x.org>\r\n\r\n".encode())
    assert found is not None and found.startswith("<") and found.endswith("@x.org>")
    record_accepted(tmp_path, found)
    assert accepted_ids(tmp_path) == {found.encode("ascii", "replace").decode("ascii")}
