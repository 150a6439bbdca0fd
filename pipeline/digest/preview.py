"""What a reader would get, without sending or storing anything."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.digest.compose import edition_content
from pipeline.digest.planning import plan_edition, slot_for
from pipeline.readers.lifecycle import find
from pipeline.readers.links import LinkMaker
from pipeline.render.edition import PersonalLinks, compile_edition, personalize
from pipeline.settings import Settings
from pipeline.store.models import Delivery, Edition, Segment


class PreviewError(ValueError):
    """Nothing to preview; the message says what to do."""


@dataclass(frozen=True)
class Preview:
    html: str
    text: str
    subject: str
    edition_id: int
    planned: bool  # False: planned for the preview only, rolled back


def preview_digest(
    session: Session,
    settings: Settings,
    links: LinkMaker,
    *,
    cadence: str,
    day: date,
    email: str | None = None,
) -> Preview:
    """The edition of the slot (planned in this session and rolled back if it does not exist
    yet), whole or as `email` gets it. Always leaves the session rolled back."""
    try:
        slot = slot_for(cadence, day)
        query = select(Edition).where(Edition.cadence == cadence, Edition.slot_date == slot)
        edition = session.scalar(query)
        planned = edition is not None
        if edition is None:
            plan_edition(
                session,
                cadence=cadence,
                day=day,
                pool_size=settings.edition_pool_size,
                gravity=settings.ranking_gravity,
            )
            edition = session.scalars(query).one()
        content = edition_content(session, edition, settings)
        if not content.papers:
            raise PreviewError("no papers in this edition's window; run `paperround ingest` first")
        keys = [p.key for p in content.papers]
        personal = PersonalLinks(links.home(), links.home(), links.archive(edition.id))
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
            personal = PersonalLinks(
                links.unsubscribe(reader.id, reader.token_version),
                links.preferences(reader.id, reader.token_version),
                links.archive(edition.id),
            )
        body = compile_edition(content).assemble(keys)
        html, text = personalize(body, personal)
        return Preview(html, text, body.subject, edition.id, planned)
    finally:
        session.rollback()
