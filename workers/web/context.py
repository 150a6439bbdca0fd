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


@dataclass
class TtlCache:
    """A small thread-safe cache: a value per key, recomputed after `ttl` seconds."""

    ttl: float
    size: int = 32
    _items: OrderedDict[object, tuple[float, object]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: object, make: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] > now:
                self._items.move_to_end(key)
                return cast(T, hit[1])
        value = make()  # outside the lock: a slow render must not block other pages
        with self._lock:
            self._items[key] = (now + self.ttl, value)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

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
