"""What every view needs, built once per app and found through `current_app`."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar, cast

from flask import current_app
from sqlalchemy.orm import Session, sessionmaker

from pipeline.ratelimit import Limiter
from pipeline.readers.links import LinkMaker, Signer
from pipeline.settings import Settings
from pipeline.wiring import Wiring
from workers.web.mailer import ConfirmationMailer

T = TypeVar("T")
EXTENSION = "paperround"


def _always(_value: object) -> bool:
    return True


@dataclass
class TtlCache:
    """A small thread-safe cache: a value per key, recomputed after `ttl` seconds.

    A missing value is made once: callers asking for the same key meanwhile wait for it
    (a burst of first visits ranks the home page's papers once, not once per visitor);
    callers for other keys, and pages that use no cache, never wait.
    """

    ttl: float
    size: int = 32
    _items: OrderedDict[object, tuple[float, object]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _making: dict[object, threading.Lock] = field(default_factory=dict)

    def _fresh(self, key: object) -> tuple[bool, object]:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] > time.monotonic():
                self._items.move_to_end(key)
                return True, hit[1]
        return False, None

    def get(self, key: object, make: Callable[[], T], keep: Callable[[T], bool] = _always) -> T:
        """The cached value, or `make()`'s, stored when `keep` says so (an archive page not
        found now may exist in a minute: it is not kept)."""
        found, value = self._fresh(key)
        if found:
            return cast(T, value)
        with self._lock:
            making = self._making.setdefault(key, threading.Lock())
        try:
            with making:
                found, value = self._fresh(key)  # made by the caller we waited for
                if found:
                    return cast(T, value)
                made = make()
                if keep(made):
                    with self._lock:
                        self._items[key] = (time.monotonic() + self.ttl, made)
                        self._items.move_to_end(key)
                        while len(self._items) > self.size:
                            self._items.popitem(last=False)
                return made
        finally:
            with self._lock:
                if self._making.get(key) is making and not making.locked():
                    del self._making[key]

    def forget(self, key: object) -> None:
        with self._lock:
            self._items.pop(key, None)


@dataclass
class Web:
    wiring: Wiring
    settings: Settings
    sessions: sessionmaker[Session]
    signer: Signer
    links: LinkMaker
    limiter: Limiter
    mailer: ConfirmationMailer
    home_papers: TtlCache = field(default_factory=lambda: TtlCache(ttl=300, size=1))
    archive_pages: TtlCache = field(default_factory=lambda: TtlCache(ttl=3600, size=16))


def web() -> Web:
    return cast(Web, current_app.extensions[EXTENSION])
