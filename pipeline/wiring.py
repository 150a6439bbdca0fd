"""The composition root: the one place that turns Settings into working objects.

The CLI, the Celery tasks and the web app each hold one `Wiring` and ask it for what they
need; library modules never read settings themselves, they are handed their collaborators
(a session factory, a transport factory, a composer, a fetcher). Everything is built on first
use, so a command that only lists sources never parses a DKIM key or opens Redis.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from pipeline.delivery.ledger import SendPolicy
from pipeline.digest.compose import DigestComposer, edition_loader, segment_loader
from pipeline.ingest.fetch import Fetcher
from pipeline.ingest.politeness import HostTurns, MemoryTurns, RedisTurns
from pipeline.locks import FileLocks, Locks, RedisLocks
from pipeline.mail.capture_log import accepted_ids
from pipeline.mail.dkim import DkimSigner, load_dkim
from pipeline.mail.message import Sender
from pipeline.mail.smtp import SmtpTransport
from pipeline.mail.transport import Transport
from pipeline.ratelimit import Limiter, MemoryLimiter, RedisLimiter
from pipeline.readers.confirmation import Confirmations
from pipeline.readers.links import LinkMaker, Signer, load_or_create_secret
from pipeline.readers.preferences import Preferences
from pipeline.readers.view_links import ViewLinks
from pipeline.render.model import Site
from pipeline.settings import Settings
from pipeline.store.db import create_engine_for, session_factory


class Wiring:
    """A configured Paperround: settings in, collaborators out (each built once)."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session] | None = None) -> None:
        self.settings = settings
        self._sessions = sessions
        self._engine: Engine | None = None

    # --- the store ---------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._sessions is not None:
            bind = self._sessions.kw["bind"]
            assert isinstance(bind, Engine)
            return bind
        if self._engine is None:
            self._engine = create_engine_for(self.settings.effective_database_url)
        return self._engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        if self._sessions is None:
            self._sessions = session_factory(self.engine)
        return self._sessions

    def close(self) -> None:
        """Close pooled connections (PostgreSQL sees a clean logout)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._sessions = None

    # --- identity and links ------------------------------------------------------------

    @functools.cached_property
    def secret_key(self) -> str:
        return load_or_create_secret(self.settings.secret_key, self.settings.data_dir)

    @functools.cached_property
    def signer(self) -> Signer:
        return Signer(self.secret_key)

    @functools.cached_property
    def links(self) -> LinkMaker:
        return LinkMaker(self.settings.base_url, self.signer)

    @functools.cached_property
    def site(self) -> Site:
        s = self.settings
        return Site(name=s.site_name, base_url=s.base_url, postal_address=s.postal_address)

    @functools.cached_property
    def sender(self) -> Sender:
        s = self.settings
        return Sender(address=s.sender_address, name=s.sender_name, list_name=s.site_name)

    @functools.cached_property
    def dkim(self) -> DkimSigner | None:
        s = self.settings
        return load_dkim(s.dkim_selector, s.dkim_domain, s.dkim_key_path)

    def default_preferences(self) -> Preferences:
        return Preferences(papers_per_digest=self.settings.default_papers_per_digest)

    # --- mail --------------------------------------------------------------------------

    @functools.cached_property
    def transports(self) -> Callable[[], Transport]:
        """New SMTP connections to the configured relay (or the capture server)."""
        url = self.settings.effective_smtp_url
        SmtpTransport.from_url(url)  # a bad URL fails now, before anything is claimed
        return lambda: SmtpTransport.from_url(url)

    def send_policy(self) -> SendPolicy:
        s = self.settings
        return SendPolicy(
            batch_size=s.send_batch_size,
            max_attempts=s.send_max_attempts,
            backoff=timedelta(seconds=s.retry_backoff_seconds),
            claim_timeout=timedelta(seconds=s.claim_timeout_seconds),
            breaker_failures=s.send_breaker_failures,
            pause_same_refusals=s.pause_same_refusals,
            pause_error_rate=s.pause_error_rate,
        )

    def composer(self) -> DigestComposer:
        """A fresh digest composer (not thread-safe: one per sender or per request)."""
        loader = edition_loader(self.sessions, self.site, self.settings.ranking_gravity)
        segments = segment_loader(self.sessions)
        return DigestComposer(loader, self.sender, self.links, self.dkim, segments, self.view_links)

    @functools.cached_property
    def view_links(self) -> ViewLinks:
        """Each reader's "view in your browser" link: their own digest, read-only."""
        return ViewLinks(self.secret_key, self.settings.base_url)

    @functools.cached_property
    def confirmations(self) -> Confirmations:
        return Confirmations(
            self.sessions, self.site, self.sender, self.links, self.transports, self.dkim
        )

    def accepted_lookup(self) -> Callable[[str], bool | None] | None:
        """How to ask the receiving server whether it took a message: only the capture server
        (ours) can answer, from its log of accepted Message-IDs."""
        if not self.settings.smtp_is_capture:
            return None
        maildir = self.settings.maildir
        seen: set[str] = set()

        def was_accepted(message_id: str) -> bool:
            if message_id not in seen:  # read the log again only for ids not found yet
                seen.update(accepted_ids(maildir))
            return message_id in seen

        return was_accepted

    # --- ingestion ---------------------------------------------------------------------

    @functools.cached_property
    def host_turns(self) -> HostTurns:
        """Whose turn it is on each feed host: shared by every worker through Redis when the
        broker is Redis, else by every fetcher of this process."""
        s = self.settings
        if s.broker_is_redis:
            return RedisTurns(s.broker_url, f"{s.redis_key_prefix}turn:")
        return MemoryTurns()

    def fetcher(self) -> Fetcher:
        s = self.settings
        return Fetcher(
            user_agent=s.effective_user_agent,
            host_intervals=s.fetch_intervals,
            turns=self.host_turns,
            connect_timeout=s.connect_timeout,
            read_timeout=s.read_timeout,
            max_bytes=s.max_feed_bytes,
            max_redirects=s.max_redirects,
            max_retries=s.max_retries,
            max_retry_after=s.max_retry_after,
        )

    # --- coordination ------------------------------------------------------------------

    @functools.cached_property
    def locks(self) -> Locks:
        s = self.settings
        if s.broker_is_redis:
            return RedisLocks(s.broker_url, s.redis_key_prefix)
        return FileLocks(Path(s.data_dir) / "locks")

    def limiter(self) -> Limiter:
        """Rate-limit counters: in Redis when the broker is Redis (shared by every web
        process), else in this process."""
        s = self.settings
        if s.broker_is_redis:
            return RedisLimiter(s.broker_url, prefix=f"{s.redis_key_prefix}rl:")
        return MemoryLimiter()
