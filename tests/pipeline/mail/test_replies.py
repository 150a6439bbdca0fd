"""SMTP refusals read by their enhanced status code (RFC 3463): who is at fault decides."""

from __future__ import annotations

import pytest

from pipeline.mail.replies import Scope, classify, enhanced_code

ADDRESS, MESSAGE, SENDER, TEMPORARY = Scope.ADDRESS, Scope.MESSAGE, Scope.SENDER, Scope.TEMPORARY


@pytest.mark.parametrize(
    ("stage", "code", "reply", "scope"),
    [
        # the recipient's address itself: the only replies that may suppress a reader
        ("RCPT TO", 550, "5.1.1 <a@x.org>: Recipient address rejected: User unknown", ADDRESS),
        ("RCPT TO", 550, "5.1.2 Host or domain name not found", ADDRESS),
        ("RCPT TO", 553, "5.1.3 Bad destination mailbox address syntax", ADDRESS),
        ("RCPT TO", 556, "5.1.10 Recipient address has null MX", ADDRESS),
        ("RCPT TO", 550, "5.2.1 The email account that you tried to reach is disabled", ADDRESS),
        ("RCPT TO", 551, "5.1.6 User has moved; no forwarding address", ADDRESS),
        # about this message: the reader stays subscribed
        ("RCPT TO", 554, "5.7.1 Message rejected as spam", MESSAGE),
        ("RCPT TO", 550, "5.7.26 Unauthenticated email is not accepted (DMARC)", MESSAGE),
        ("RCPT TO", 552, "5.3.4 Message size exceeds fixed limit", MESSAGE),
        ("RCPT TO", 552, "5.2.2 Mailbox full", MESSAGE),
        ("RCPT TO", 550, "5.6.0 Content rejected", MESSAGE),
        ("DATA", 554, "5.7.1 content rejected as spam", MESSAGE),
        ("DATA", 550, "5.1.1 no such user", MESSAGE),  # said to DATA: about the message
        ("message", 554, "5.7.1 Spam message rejected", MESSAGE),
        ("message", 550, "5.1.1 user unknown", MESSAGE),
        ("message", 552, "Message too large", MESSAGE),
        # ours to fix: every reader would fail alike
        ("MAIL FROM", 553, "5.1.8 Sender address rejected: Domain not found", SENDER),
        ("RCPT TO", 550, "5.1.7 Bad sender's mailbox address syntax", SENDER),
        ("RCPT TO", 554, "5.7.1 <a@x.org>: Relay access denied", SENDER),
        ("RCPT TO", 550, "Relaying denied", SENDER),
        # temporary, whatever the stage
        ("RCPT TO", 451, "4.3.0 Try again later", TEMPORARY),
        ("RCPT TO", 550, "4.2.2 Mailbox over quota, try again", TEMPORARY),
        ("DATA", 452, "Insufficient system storage", TEMPORARY),
        # no enhanced code: the conservative fallback
        ("RCPT TO", 550, "No such user here", ADDRESS),
        ("RCPT TO", 551, "User not local", ADDRESS),
        ("RCPT TO", 553, "Mailbox name not allowed", ADDRESS),
        ("RCPT TO", 554, "Transaction failed", MESSAGE),
        ("RCPT TO", 552, "Requested mail action aborted", MESSAGE),
        ("DATA", 550, "Rejected", MESSAGE),
        ("message", 550, "Rejected", MESSAGE),
    ],
)
def test_scope_of_a_refusal(stage: str, code: int, reply: str, scope: Scope) -> None:
    assert classify(stage, code, reply).scope == scope  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reply", "found"),
    [
        ("5.7.1 rejected", (5, 7, 1)),
        ("  5.1.10 null MX", (5, 1, 10)),
        ("4.7.0 try later", (4, 7, 0)),
        ("5.7 rejected", None),
        ("55.1.1 nope", None),
        ("5.1.1234 too long a detail", None),
        ("rejected 5.7.1", None),  # only at the start of the text (RFC 3463 section 2)
        ("", None),
    ],
)
def test_enhanced_codes_are_read_from_the_start_of_the_text(
    reply: str, found: tuple[int, int, int] | None
) -> None:
    assert enhanced_code(reply) == found
    if found is not None:
        assert classify("RCPT TO", 500 + found[0], reply).enhanced == ".".join(map(str, found))
