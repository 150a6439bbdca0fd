"""Turning a signed link into a reader, or into a clear error page (never a stack trace)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from pipeline.readers.lifecycle import SubscriptionError, reader_from_link
from pipeline.readers.links import TokenClaims, TokenError
from pipeline.store.models import Subscriber
from workers.web.context import web


class LinkProblem(Exception):
    """A link that cannot be honored: 400 for damaged/forged/expired, 404 for revoked."""

    def __init__(self, status: int, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.expired = expired


def claims(purpose: str, token: str) -> TokenClaims:
    try:
        return web().signer.check(purpose, token)
    except TokenError as exc:
        raise LinkProblem(400, str(exc), expired=exc.expired) from None


def reader(session: Session, purpose: str, token: str) -> Subscriber:
    found = claims(purpose, token)
    try:
        return reader_from_link(session, found.link_id, found.version)
    except SubscriptionError as exc:
        raise LinkProblem(404, str(exc)) from None
