"""Header checks and encodings for outgoing mail: data never becomes header syntax.

Every value that reaches a header comes from somewhere we do not control (feed titles in a
subject, addresses typed into a form, settings files). A CR or LF in such a value would let it
add headers or end the header block (header injection), so each value is checked here and
refused with a ValueError naming the field; nothing is silently stripped.
"""

from __future__ import annotations

import re
from email.header import Header
from email.utils import formataddr

# C0 controls (CR, LF, TAB, NUL ...), DEL, C1 controls and the Unicode line/paragraph
# separators, which some clients render as line breaks.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_LOCAL_PART = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*"
_DOMAIN_RE = re.compile(_DOMAIN)
_ADDRESS_RE = re.compile(rf"{_LOCAL_PART}@{_DOMAIN}")
# Printable ASCII without space and the characters that delimit a URI inside
# List-Unsubscribe: "<", ">" and "," (RFC 2369 section 2).
_URI_RE = re.compile(r"[!#-+\--;=?-~]+")
_MESSAGE_ID_RE = re.compile(rf"{_LOCAL_PART}@{_LOCAL_PART}")

MAX_LINE = 78  # RFC 5322 section 2.1.1: lines SHOULD be at most 78 characters.


def check_line(field: str, value: str, *, max_length: int = 900) -> str:
    """Return `value` if it is one line of header text, else raise ValueError naming `field`."""
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string, not {type(value).__name__}")
    found = _CONTROL.search(value)
    if found:
        raise ValueError(
            f"{field} contains control character {found.group()!r} at position "
            f"{found.start()}: header values must be a single line"
        )
    if len(value) > max_length:
        raise ValueError(f"{field} is {len(value)} characters long; the limit is {max_length}")
    return value


def check_address(field: str, value: str) -> str:
    """Return a plain ASCII addr-spec (local@domain) or raise ValueError naming `field`.

    Quoted local parts and non-ASCII addresses (which need SMTPUTF8, RFC 6531) are refused:
    Paperround sends 7-bit mail only.
    """
    check_line(field, value, max_length=254)
    if not value.isascii():
        raise ValueError(f"{field} {value!r} is not ASCII; SMTPUTF8 addresses are not supported")
    if len(value.partition("@")[0]) > 64 or not _ADDRESS_RE.fullmatch(value):
        raise ValueError(f"{field} {value!r} is not an address of the form local@domain")
    return value


def check_domain(field: str, value: str) -> str:
    check_line(field, value, max_length=253)
    if not _DOMAIN_RE.fullmatch(value):
        raise ValueError(f"{field} {value!r} is not a domain name like example.org")
    return value


def check_uri(field: str, value: str, schemes: tuple[str, ...]) -> str:
    """A URI fit for angle brackets in List-Unsubscribe (RFC 2369), with one of `schemes`."""
    check_line(field, value)
    if not value.lower().startswith(schemes):
        raise ValueError(f"{field} {value!r} must start with {' or '.join(schemes)}")
    if not _URI_RE.fullmatch(value):
        raise ValueError(
            f"{field} {value!r} may only hold printable ASCII without spaces, '<', '>' or ','"
            " (percent-encode them)"
        )
    return value


def normalize_message_id(value: str) -> str:
    """`id@domain` or `<id@domain>` -> `<id@domain>` (RFC 5322 section 3.6.4)."""
    check_line("message_id", value, max_length=250)
    bare = value[1:-1] if value.startswith("<") and value.endswith(">") else value
    if not _MESSAGE_ID_RE.fullmatch(bare):
        raise ValueError(f"message_id {value!r} is not of the form <id@domain>")
    return f"<{bare}>"


def fold_ascii(name: str, value: str) -> str:
    """`Name: value` folded at spaces so lines stay within 78 characters where possible."""
    line = f"{name}:"
    lines: list[str] = []
    for word in value.split(" "):
        # Fold only before a word: a line of nothing but white space must never be generated
        # (RFC 5322 section 3.2.2), so runs of spaces stay on the line they follow.
        if word and len(line) + 1 + len(word) > MAX_LINE and line.strip():
            lines.append(line)
            line = ""
        line += " " + word
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def subject_header(subject: str) -> bytes:
    """The Subject field, as RFC 2047 encoded words when it is not plain ASCII.

    ASCII text that looks like an encoded word ("=?") is encoded too, so that readers show
    exactly the text we were given.
    """
    check_line("subject", subject, max_length=500)
    if subject.isascii() and "=?" not in subject:
        return fold_ascii("Subject", subject).encode("ascii")
    encoded = Header(subject, "utf-8", header_name="Subject").encode(
        linesep="\r\n", maxlinelen=MAX_LINE
    )
    return b"Subject: " + encoded.encode("ascii") + b"\r\n"


def from_header(name: str, address: str) -> bytes:
    """The From field: a quoted or RFC 2047 encoded display name and the address."""
    check_line("from_name", name, max_length=200)
    check_address("from_addr", address)
    if not name:
        return f"From: {address}\r\n".encode("ascii")
    if name.isascii() and "=?" not in name:
        return fold_ascii("From", formataddr((name, address))).encode("ascii")
    encoded = Header(name, "utf-8", header_name="From").encode(linesep="\r\n", maxlinelen=MAX_LINE)
    return f"From: {encoded}\r\n <{address}>\r\n".encode("ascii")
