"""The mail port: one message to one recipient, with an outcome the ledger can act on.

`SendOutcome.status` tells the caller (pipeline/delivery/ledger.py) what it may do next:
- "sent": the server took responsibility (2xx after the body, RFC 5321 section 4.2.1);
- "retry": nothing was delivered (4xx, or the connection failed before the body was sent):
  sending again later cannot duplicate the message;
- "failed": the server refused this message for good (5xx); `suppress` says whether it refused
  the recipient's address itself (RFC 3463 X.1.x: never mail it again) or only this message
  (policy, spam, size, content: the reader stays subscribed), see pipeline/mail/replies.py;
- "unknown": the connection was lost after the whole body was sent but before the final reply.
  The server may already have queued it (RFC 1047 duplicate-message problem), so the caller
  must not retry automatically.
Anything that is about the connection or our own sender (cannot connect, TLS, AUTH, MAIL FROM
refused, relaying denied) is "retry" and `systemic`, never "failed": it says nothing about the
reader, who must not be suppressed because our relay is misconfigured.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable


class SendStatus(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SendOutcome:
    status: SendStatus
    code: int | None
    detail: str  # one line, bounded: SMTP replies are untrusted input
    # True when the trouble is ours or the server's, not this reader's (cannot connect, TLS,
    # AUTH, MAIL FROM refused): the rest of a batch would fail the same way right now.
    systemic: bool = False
    # True only for a permanent refusal of the recipient's address (never mail it again).
    suppress: bool = False
    # True when the connection failed (refused, dropped, timed out), not the server's reply.
    connection: bool = False
    enhanced: str | None = None  # the RFC 3463 code of the reply, e.g. "5.7.1"

    @property
    def signature(self) -> tuple[int | None, str | None]:
        """What makes two refusals "the same reply" (a relay refusing everyone alike)."""
        return self.code, self.enhanced


class Transport(Protocol):
    """What the delivery loop needs from a mail backend. Not thread-safe: one per worker."""

    def send(self, envelope_from: str, to_addr: str, message: bytes) -> SendOutcome:
        """Try to hand `message` (CRLF, 7-bit) for `to_addr` to the next hop; never raises
        for network or server trouble, which is reported in the outcome instead."""
        ...

    def close(self) -> None:
        """Release the connection; a later send may open a new one."""
        ...


class Exchange(Protocol):
    """One message on its way, in the steps a sender may do other work between: the
    envelope was written when the exchange began; `envelope_ready` reads its replies,
    `send_body` writes the message, `outcome` reads the server's verdict. `abandon` drops
    the connection instead of sending the body (nothing is delivered without it)."""

    def envelope_ready(self) -> SendOutcome | None:
        """None when the server waits for the body; else the outcome (nothing was sent)."""
        ...

    def send_body(self) -> None: ...

    def outcome(self) -> SendOutcome: ...

    def abandon(self) -> None: ...


@runtime_checkable
class StagedTransport(Transport, Protocol):
    """A transport whose sends can be split into steps (SMTP with PIPELINING can): the send
    loop composes the next message while the server answers this one, and writes the next
    envelope while the ledger commits (pipeline/delivery/sending.py)."""

    def begin(
        self, envelope_from: str, to_addr: str, message: bytes, *, transparent: bool = False
    ) -> Exchange:
        """Write the envelope for `message` (not the message); never raises for network or
        server trouble, which the exchange's outcome reports instead. `transparent` says no
        line of `message` starts with "." (as no message of pipeline/mail/message.py does),
        so it goes out without the dot-stuffing pass (RFC 5321 section 4.5.2)."""
        ...
