"""The capture server's log of accepted Message-IDs: lets the ledger settle "unknown" rows.

A sender that dies while a message is in flight leaves its row "unknown": only the receiving
server knows whether it took the message. With the embedded capture server that server is
ours, so it appends each accepted Message-ID here (flushed before it answers 250) and the
ledger can look the answer up instead of guessing. Real relays offer no such lookup; with them
"unknown" rows wait for an admin (`paperround resend EDITION --failed`).
"""

from __future__ import annotations

import re
from pathlib import Path

LOG_NAME = "accepted-message-ids.log"
_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]{1,250}>)", re.IGNORECASE | re.MULTILINE)


def log_path(maildir: Path) -> Path:
    return maildir / LOG_NAME


def message_id_of(message: bytes) -> str | None:
    """The Message-ID header of a raw message (headers only are searched)."""
    head = message.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    found = _MESSAGE_ID.search(head)
    return found.group(1).decode("ascii", "replace") if found else None


def record_accepted(maildir: Path, message_id: str) -> None:
    """Append one id before the server answers 250. Written through to the OS (not fsynced):
    the crash this guards against is the sender's, and the capture server outlives it."""
    path = log_path(maildir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="ascii", errors="replace") as handle:
        handle.write(message_id + "\n")


def accepted_ids(maildir: Path) -> set[str]:
    path = log_path(maildir)
    if not path.exists():
        return set()
    return {line.strip() for line in path.read_text("ascii", "replace").splitlines() if line}
