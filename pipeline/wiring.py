"""Wiring settings to the pieces: one place that knows how a configured Paperround is built.

The CLI, the Celery tasks and the web app all call these, so they stay thin and agree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy.orm import Session, sessionmaker

from pipeline.delivery.ledger import SendPolicy
from pipeline.digest.compose import DigestComposer
from pipeline.mail.capture_log import accepted_ids
from pipeline.mail.transport import SmtpTransport, Transport
from pipeline.readers.links import LinkMaker
from pipeline.readers.preferences import Preferences
from pipeline.readers.tokens import Signer, load_or_create_secret
from pipeline.settings import Settings

CAPTURE = "capture"


def signer(settings: Settings) -> Signer:
    return Signer(load_or_create_secret(settings.secret_key, settings.data_dir))


def links(settings: Settings) -> LinkMaker:
    return LinkMaker(settings.base_url, signer(settings))


def smtp_url(settings: Settings) -> str:
    """The SMTP URL to send through; "capture" means the local capture server."""
    url = settings.smtp_url
    if url == CAPTURE:
        url = f"smtp://127.0.0.1:{settings.capture_port}"
    if settings.send_rate > 0:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        query.setdefault("rate", f"{settings.send_rate:g}")
        url = urlunsplit(parts._replace(query=urlencode(query)))
    return url


def transport_factory(settings: Settings) -> Callable[[], Transport]:
    url = smtp_url(settings)
    SmtpTransport.from_url(url)  # validate now: a bad URL fails before anything is claimed
    return lambda: SmtpTransport.from_url(url)


def send_policy(settings: Settings) -> SendPolicy:
    return SendPolicy(
        batch_size=settings.send_batch_size,
        max_attempts=settings.send_max_attempts,
        backoff=timedelta(seconds=settings.retry_backoff_seconds),
        claim_timeout=timedelta(seconds=settings.claim_timeout_seconds),
    )


def composer(factory: sessionmaker[Session], settings: Settings) -> DigestComposer:
    return DigestComposer(factory, settings, links(settings))


def default_preferences(settings: Settings) -> Preferences:
    return Preferences(papers_per_digest=settings.default_papers_per_digest)


def accepted_lookup(settings: Settings) -> Callable[[str], bool | None] | None:
    """How to ask the receiving server whether it took a message: only the capture server can."""
    if settings.smtp_url != CAPTURE:
        return None
    maildir = settings.maildir
    seen: set[str] = set()

    def was_accepted(message_id: str) -> bool:
        if message_id not in seen:  # read the log again only for ids not found yet
            seen.update(accepted_ids(maildir))
        return message_id in seen

    return was_accepted
