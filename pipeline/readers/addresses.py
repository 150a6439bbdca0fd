"""Email address validation and normalization (syntax only: no DNS lookups, ever, here).

`normalize_address` is the one validator: the web form, the API, the CLI and CSV imports all
call it, and it accepts nothing the sender could not mail (local part at most 64 ASCII
characters, no SMTPUTF8, the whole address under 254 characters as SMTP carries it).

The stored form keeps the local part as typed (some servers are case-sensitive there, RFC 5321
sec. 2.4) with the domain lower-cased and IDN domains in Unicode; the lookup key case-folds the
whole address so "Ann@Example.org" and "ann@example.org" are one reader.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from pipeline.mail.headers import check_address

MAX_LENGTH = 254  # RFC 3696 errata: the longest address that fits a forward path


class AddressError(ValueError):
    """The address was refused; the message is fit to show next to the form field."""


@dataclass(frozen=True, slots=True)
class Address:
    email: str  # normalized, for display and for the To header
    key: str  # case-folded, unique in the store


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch)[0] == "C" for ch in text)


def normalize_address(raw: str) -> Address:
    """Validate `raw` and return its normalized form, or raise AddressError saying why."""
    if not isinstance(raw, str) or not raw.strip():
        raise AddressError("Please enter an email address.")
    if _has_control(raw):
        raise AddressError("The address contains line breaks or control characters.")
    candidate = raw.strip()
    if len(candidate) > MAX_LENGTH:
        raise AddressError(f"The address is longer than {MAX_LENGTH} characters.")
    try:
        # No SMTPUTF8: Paperround sends 7-bit mail, so a non-ASCII local part could never be
        # delivered (an IDN domain is fine: it travels as its A-label).
        checked = validate_email(candidate, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        if not candidate.rpartition("@")[0].isascii():
            raise AddressError(
                "Addresses with non-ASCII characters before the @ cannot get our mail yet."
            ) from None
        raise AddressError(f"This is not a valid email address: {exc}") from None
    email = checked.normalized
    if len(email) > MAX_LENGTH or any(ch in email for ch in '\r\n<>,;"'):
        raise AddressError("This address cannot be used for mail delivery.")
    try:  # the very check the sender applies to every To: and RCPT TO (mail/headers.py)
        check_address("address", smtp_address(email))
    except ValueError:
        raise AddressError("This address cannot be used for mail delivery.") from None
    return Address(email=email, key=email.casefold())


def smtp_address(email: str) -> str:
    """The address as 7-bit SMTP can carry it: an IDN domain in its A-label form (RFC 5891).

    Raises ValueError for a non-ASCII local part (that needs SMTPUTF8, RFC 6531).
    """
    local, _, domain = email.rpartition("@")
    if not local.isascii():
        raise ValueError("addresses with non-ASCII characters before the @ are not supported")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"the domain {domain!r} cannot be written in ASCII") from None
    return f"{local}@{ascii_domain}"
