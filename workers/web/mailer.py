"""Confirmation mails go out on a small thread pool, after the request has answered.

Two reasons: a slow SMTP relay must not hold a page open, and a known address (no mail) and
a new one (mail) must answer alike, in content and in time, so the form reveals nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from pipeline.mail.transport import SendOutcome

log = logging.getLogger(__name__)


class ConfirmationMailer:
    def __init__(self, send: Callable[[int], SendOutcome], workers: int = 2) -> None:
        self._send = send
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="confirm-mail")
        self._pending: set[Future[SendOutcome]] = set()
        self._lock = threading.Lock()
        self.outcomes: list[SendOutcome] = []  # kept for operators' logs and for tests

    def submit(self, subscriber_id: int) -> None:
        future = self._pool.submit(self._send, subscriber_id)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[SendOutcome]) -> None:
        with self._lock:
            self._pending.discard(future)
        exc = future.exception()
        if exc is not None:
            log.error("confirmation mail failed: %s", exc, exc_info=exc)
            return
        with self._lock:
            self.outcomes.append(future.result())
            del self.outcomes[:-100]

    def drain(self, timeout: float = 30.0) -> None:
        """Wait for the mails already submitted (tests; a clean shutdown)."""
        with self._lock:
            pending = set(self._pending)
        wait(pending, timeout=timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
