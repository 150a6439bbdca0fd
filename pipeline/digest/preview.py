"""What a reader would get, without sending or storing anything: the send path, not a copy.

A preview is made by the composer that sends (`DigestComposer.message_for`), for the reader's
own segment and links; only the Message-ID and Date differ from the message that reader is
sent. The archive's browser view is the same message for the whole edition, with links that
belong to no reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.digest.compose import (
    SHOWCASE,
    DigestComposer,
    SegmentExtras,
    edition_content,
    extras_of,
    shown_paper_ids,
)
from pipeline.digest.planning import ExplainedPick, explain_selection, plan_edition, slot_for
from pipeline.mail.message import new_message_id
from pipeline.readers.lifecycle import find
from pipeline.render.edition import EmptyEdition
from pipeline.render.model import Site
from pipeline.render.placeholders import DigestLinks
from pipeline.store.models import Delivery, Edition, Segment
from pipeline.store.status import Cadence


class PreviewError(ValueError):
    """Nothing to preview; the message says what to do."""


@dataclass(frozen=True)
class Preview:
    message: bytes  # the complete message, as SMTP DATA would carry it
    html: str
    text: str
    subject: str
    edition_id: int
    planned: bool  # False: planned for the preview only, rolled back
    recipient: str  # the reader's address, or the sender's for a whole-edition preview


def message_parts(message: bytes) -> tuple[str, str, str]:
    """(html, text, subject) of a digest message, decoded the way a mail client does."""
    parsed = message_from_bytes(message, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    html_part, text_part = parsed.get_body(("html",)), parsed.get_body(("plain",))
    if html_part is None or text_part is None:
        raise ValueError("a digest message must have a text and an HTML part")
    html, text = (str(part.get_content()).replace("\r\n", "\n") for part in (html_part, text_part))
    return html, text, str(parsed["Subject"])


def preview_digest(
    session: Session,
    composer: DigestComposer,
    site: Site,
    *,
    cadence: Cadence,
    day: date,
    pool_size: int,
    gravity: float,
    email: str | None = None,
    message_id: str | None = None,
    when: datetime | None = None,
) -> Preview:
    """The edition of the slot (planned in this session and rolled back if it does not exist
    yet), whole or as `email` gets it. Always leaves the session rolled back."""
    try:
        slot = slot_for(cadence, day)
        query = select(Edition).where(Edition.cadence == cadence, Edition.slot_date == slot)
        edition = session.scalar(query)
        planned = edition is not None
        if edition is None:
            plan_edition(session, cadence=cadence, day=day, pool_size=pool_size, gravity=gravity)
            edition = session.scalars(query).one()
        content = edition_content(
            session, edition, site, gravity, shown_paper_ids(session, edition)
        )
        if not content.papers:
            raise PreviewError("no papers in this edition's window; run `paperround ingest` first")
        shown = {p.key for p in content.papers}
        keys = [str(pid) for pid in edition.paper_ids[:SHOWCASE] if str(pid) in shown]
        extras = SegmentExtras()
        recipient = composer.sender.address
        home = composer.links.home()
        links = DigestLinks(home, home, composer.links.archive(edition.id))
        if email:
            reader = find(session, email)
            if reader is None:
                raise PreviewError(f"no reader {email}; see `paperround subscribers list`")
            segment = session.scalar(
                select(Segment)
                .join(Delivery, Delivery.segment_id == Segment.id)
                .where(Delivery.edition_id == edition.id, Delivery.subscriber_id == reader.id)
            )
            if segment is None:
                raise PreviewError(
                    f"{email} gets nothing in this edition (no matching papers, "
                    f"or not an active {cadence} reader)"
                )
            keys = [str(pid) for pid in segment.paper_ids]
            extras = extras_of(segment.paper_ids, segment.reasons, segment.followed)
            recipient = reader.email
            links = composer.reader_links(
                reader.link_id, reader.token_version, edition.id, segment.paper_ids
            )
        message = composer.reading(lambda _edition_id: content).message_for(
            edition.id,
            keys,
            recipient,
            links,
            message_id or new_message_id(composer.sender.domain),
            when,
            extras,
        )
        html, text, subject = message_parts(message)
        return Preview(message, html, text, subject, edition.id, planned, recipient)
    finally:
        session.rollback()


def edition_page(composer: DigestComposer, edition_id: int, help_url: str) -> str | None:
    """The whole edition as HTML for the archive: the digest message's HTML part, with every
    personal link pointing at `help_url` (how to leave without a personal link)."""
    try:
        compiled = composer.compiled(edition_id)
    except (LookupError, EmptyEdition):
        return None
    links = DigestLinks(help_url, help_url, composer.links.archive(edition_id))
    keys = [paper.key for paper in compiled.content.papers]
    message = composer.message_for(
        edition_id, keys, composer.sender.address, links, new_message_id(composer.sender.domain)
    )
    return message_parts(message)[0]


def explain_reader(
    session: Session,
    *,
    cadence: Cadence,
    day: date,
    pool_size: int,
    gravity: float,
    email: str,
) -> list[ExplainedPick]:
    """The papers `email` gets in the slot's edition, in order, each with its score and
    reasons (planned in this session and rolled back if the edition does not exist yet).
    Always leaves the session rolled back."""
    try:
        slot = slot_for(cadence, day)
        query = select(Edition).where(Edition.cadence == cadence, Edition.slot_date == slot)
        if session.scalar(query) is None:
            plan_edition(session, cadence=cadence, day=day, pool_size=pool_size, gravity=gravity)
        edition = session.scalars(query).one()
        reader = find(session, email)
        if reader is None:
            raise PreviewError(f"no reader {email}; see `paperround subscribers list`")
        planned = session.scalar(
            select(Delivery.id).where(
                Delivery.edition_id == edition.id, Delivery.subscriber_id == reader.id
            )
        )
        if planned is None:
            raise PreviewError(
                f"{email} gets nothing in this edition (no matching papers, "
                f"or not an active {cadence} reader)"
            )
        return explain_selection(session, edition, reader.id, gravity)
    finally:
        session.rollback()
