"""SMTP relay settings from one URL, e.g. `smtps://user:p%40ss@mail.example.org?rate=20`.

One URL keeps the relay configurable by a single setting or environment variable; every
mistake is refused at start with a ValueError that names the part that is wrong.
"""

from __future__ import annotations

import math
import socket
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

TlsMode = Literal["none", "starttls", "implicit"]
_DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_OPTIONS = ("starttls", "timeout", "rate", "tls_verify", "helo")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    tls: TlsMode = "none"
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    rate: float = 0.0  # messages per second; 0 = unlimited
    tls_verify: bool = True
    helo: str = ""  # EHLO name; "" = this host's name (no DNS lookup, unlike getfqdn())

    def __repr__(self) -> str:  # never print the password into logs
        return (
            f"SmtpConfig(host={self.host!r}, port={self.port}, tls={self.tls!r}, "
            f"username={self.username!r}, timeout={self.timeout}, rate={self.rate}, "
            f"tls_verify={self.tls_verify})"
        )

    @property
    def ehlo_name(self) -> str:
        return self.helo or socket.gethostname()


def _flag(name: str, value: str) -> bool:
    if value in {"1", "true", "yes"}:
        return True
    if value in {"0", "false", "no"}:
        return False
    raise ValueError(f"SMTP URL option {name}={value!r} must be 0 or 1")


def _number(name: str, value: str, *, allow_zero: bool) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"SMTP URL option {name}={value!r} is not a number") from None
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        floor = "0 or more" if allow_zero else "greater than 0"
        raise ValueError(f"SMTP URL option {name}={value!r} must be {floor}")
    return number


def parse_smtp_url(url: str) -> SmtpConfig:
    """smtp://[user:pass@]host[:port][?starttls=1&timeout=30&rate=10&tls_verify=0&helo=name]
    or smtps://... (implicit TLS, RFC 8314). Credentials are percent-decoded."""
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise ValueError("SMTP URL must not contain spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS:
        raise ValueError(f"SMTP URL scheme {parts.scheme!r} is not smtp:// or smtps://")
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError("SMTP URL must not have a path or fragment, only ?options")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ValueError("SMTP URL port must be a number from 1 to 65535") from None
    if not host:
        raise ValueError("SMTP URL has no host, e.g. smtp://mail.example.org:587")
    options: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
        if name not in _OPTIONS:
            raise ValueError(f"unknown SMTP URL option {name!r}; known: {', '.join(_OPTIONS)}")
        options[name] = value.strip().lower() if name != "helo" else value.strip()
    tls: TlsMode = "implicit" if parts.scheme == "smtps" else "none"
    if _flag("starttls", options.get("starttls", "0")):
        if tls == "implicit":
            raise ValueError("SMTP URL option starttls=1 conflicts with smtps:// (already TLS)")
        tls = "starttls"
    if parts.password is not None and not parts.username:
        raise ValueError("SMTP URL has a password but no user name")
    return SmtpConfig(
        host=host,
        port=port or _DEFAULT_PORTS[parts.scheme],
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        timeout=_number("timeout", options.get("timeout", "30"), allow_zero=False),
        rate=_number("rate", options.get("rate", "0"), allow_zero=True),
        tls_verify=_flag("tls_verify", options.get("tls_verify", "1")),
        helo=options.get("helo", ""),
    )
