"""What an SMTP refusal means, read from its enhanced status code (RFC 3463), not its first digit.

A 5xx says "not this message, not like this", but not always "this reader does not exist".
Only an address-level permanent failure may suppress a reader for good; a policy, spam, size or
content refusal says something about the message (or about us) and must never cost a reader
their subscription. Where the reply carries no enhanced code, the fallback is conservative:
550/551/553 to RCPT name the address, anything said to DATA is about the message.

    scope      examples                                          the reader
    address    5.1.1 no such user, 5.1.10 null MX, 5.2.1 disabled  suppressed, row failed
    message    5.7.1 spam/policy, 5.6.x content, 5.3.4 too big,   row failed, reader kept
               552, any refusal of DATA or of the body
    sender     MAIL FROM refused, 5.7.x to RCPT saying relaying   row retried, batch stopped
               is denied, 5.1.7/5.1.8 (our own address)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Stage = Literal["MAIL FROM", "RCPT TO", "DATA", "message"]

_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})(?!\d)")
# X.1.x about the recipient's address, X.2.1 mailbox disabled (RFC 3463 section 3.2-3.3).
# 5.1.7 and 5.1.8 are about OUR sender address, so they are the sender's scope instead.
_ADDRESS_DETAILS = {(1, 0), (1, 1), (1, 2), (1, 3), (1, 4), (1, 6), (1, 10), (2, 1)}
_SENDER_DETAILS = {(1, 7), (1, 8)}
_FALLBACK_ADDRESS_CODES = {550, 551, 553}
# Words relays use when they refuse to relay for us (our credentials or our IP, not the reader).
_RELAY_DENIED = re.compile(
    r"relay(ing)? (access )?(denied|not permitted|prohibited)|not allowed to relay", re.I
)


class Scope(StrEnum):
    ADDRESS = "address"  # this recipient address is permanently undeliverable
    MESSAGE = "message"  # this message was refused; the address may be fine
    SENDER = "sender"  # the trouble is ours (sender address, relay permission)
    TEMPORARY = "temporary"  # 4xx: try again later


@dataclass(frozen=True)
class Verdict:
    scope: Scope
    enhanced: str | None  # "5.7.1", when the reply carried one

    @property
    def permanent(self) -> bool:
        return self.scope != Scope.TEMPORARY


def enhanced_code(reply: str) -> tuple[int, int, int] | None:
    """The enhanced status code at the start of a reply's text, e.g. (5, 7, 1), or None."""
    found = _ENHANCED.match(reply)
    if found is None:
        return None
    klass, subject, detail = (int(part) for part in found.groups())
    return klass, subject, detail


def classify(stage: Stage, code: int, reply: str) -> Verdict:
    """What a refusal (4xx/5xx) at `stage` means; `reply` is the text after the code."""
    enhanced = enhanced_code(reply)
    label = ".".join(map(str, enhanced)) if enhanced else None
    if 400 <= code < 500 or (enhanced is not None and enhanced[0] == 4):
        return Verdict(Scope.TEMPORARY, label)
    if stage == "MAIL FROM":
        return Verdict(Scope.SENDER, label)
    if stage != "RCPT TO":  # DATA, or the reply to the body: about the message
        return Verdict(Scope.MESSAGE, label)
    if enhanced is not None:
        _, subject, detail = enhanced
        if (subject, detail) in _ADDRESS_DETAILS:
            return Verdict(Scope.ADDRESS, label)
        if (subject, detail) in _SENDER_DETAILS or (subject == 7 and _RELAY_DENIED.search(reply)):
            return Verdict(Scope.SENDER, label)
        return Verdict(Scope.MESSAGE, label)
    if _RELAY_DENIED.search(reply):
        return Verdict(Scope.SENDER, label)
    if code in _FALLBACK_ADDRESS_CODES:
        return Verdict(Scope.ADDRESS, label)
    return Verdict(Scope.MESSAGE, label)
