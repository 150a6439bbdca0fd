"""Subscribe requests are carried out on a small thread pool, after the request has answered.

The request validates the input, applies the rate limits and notes who asked (the consent
record's IP and user agent); only here, later, is the address looked up, a reader row written
or refreshed, and a confirmation mail sent when one is due. So every address gets the same
answer in content and in time: a new one (a row inserted, a mail sent) and a known one (no
change, or a consent refresh) cannot be told apart by the response. A slow SMTP relay never
holds a page open either.

The queue is bounded (`max_pending`): past it the page answers 503, "busy, try again",
whatever the address, rather than let a flood of requests grow memory without end.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime

from pipeline.mail.transport import SendOutcome
from pipeline.readers.lifecycle import Consent
from pipeline.readers.preferences import Preferences

log = logging.getLogger(__name__)
MAX_PENDING = 10_000  # ~1 KB each: a flood costs memory in megabytes, not without end


@dataclass(frozen=True)
class Signup:
    """One subscribe request as the page accepted it: validated, not yet looked up."""

    email: str
    prefs: Preferences
    consent: Consent
    at: datetime


class Busy(Exception):
    """Too many subscribe requests are waiting; the page asks to try again shortly."""


class ConfirmationMailer:
    def __init__(
        self,
        record: Callable[[Signup], int | None],
        send: Callable[[int], SendOutcome],
        workers: int = 2,
        max_pending: int = MAX_PENDING,
    ) -> None:
        """`record` writes the request and returns the reader to mail (or None); `send`
        mails them the confirm link."""
        self._record = record
        self._send = send
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="confirm-mail")
        self._pending: set[Future[SendOutcome | None]] = set()
        self._lock = threading.Lock()
        self.max_pending = max_pending
        self.outcomes: list[SendOutcome] = []  # kept for operators' logs and for tests

    def submit(self, signup: Signup) -> None:
        with self._lock:
            if len(self._pending) >= self.max_pending:
                raise Busy
            future = self._pool.submit(self._carry_out, signup)
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _carry_out(self, signup: Signup) -> SendOutcome | None:
        subscriber_id = self._record(signup)
        return None if subscriber_id is None else self._send(subscriber_id)

    def _done(self, future: Future[SendOutcome | None]) -> None:
        with self._lock:
            self._pending.discard(future)
        exc = future.exception()
        if exc is not None:
            log.error("subscribe request failed: %s", exc, exc_info=exc)
            return
        outcome = future.result()
        if outcome is not None:
            with self._lock:
                self.outcomes.append(outcome)
                del self.outcomes[:-100]

    def drain(self, timeout: float = 30.0) -> None:
        """Wait for the requests already submitted (tests; a clean shutdown)."""
        with self._lock:
            pending = set(self._pending)
        wait(pending, timeout=timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
