"""Turning ledger jobs into messages: the Composer the send loop uses for digests.

Cost per edition: one compile (Jinja2 -> MJML -> premailer). Per segment: a string assembly
and one MIME encoding. Per reader: two signed tokens and a byte splice (see FINDINGS.md for
why MIME is built once per segment). Segments are cached in a small LRU: jobs arrive ordered
by segment, so memory stays flat however many segments an edition has.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pipeline.delivery.ledger import Composed, Job
from pipeline.digest.planning import edition_papers
from pipeline.mail.message import DkimSigner, MessageTemplate, new_message_id
from pipeline.ranking.ranked import RankedPaper
from pipeline.readers.addresses import smtp_address
from pipeline.readers.links import LinkMaker
from pipeline.render.edition import (
    BROWSER_PLACEHOLDER,
    PREFERENCES_PLACEHOLDER,
    UNSUBSCRIBE_PLACEHOLDER,
    CompiledEdition,
    DigestPaper,
    EditionContent,
    compile_edition,
)
from pipeline.settings import Settings
from pipeline.store.models import Edition, Segment

SEGMENT_CACHE = 64
# Segments' paper lists are read this many at a time, in id order (the order jobs arrive
# in): one query per 500 segments instead of one per segment, which dominated the cost of
# an edition where every reader's selection differs (bench/digest.py).
SEGMENT_PREFETCH = 500


def digest_paper(paper: RankedPaper) -> DigestPaper:
    return DigestPaper(
        key=str(paper.id),
        arxiv_id=paper.arxiv_id,
        title=paper.title,
        authors=tuple(paper.authors),
        abstract=paper.abstract,
        categories=tuple(paper.categories),
        upvotes=paper.upvotes,
        links={k: str(v) for k, v in paper.links.items() if isinstance(v, str)},
        thumbnail=paper.thumbnail,
    )


def edition_content(session: Session, edition: Edition, settings: Settings) -> EditionContent:
    papers = edition_papers(session, edition, settings.ranking_gravity)
    return EditionContent(
        edition_id=edition.id,
        cadence="weekly" if edition.cadence == "weekly" else "daily",
        date=edition.slot_date,
        papers=[digest_paper(p) for p in papers],
        site_name=settings.site_name,
        base_url=settings.base_url,
        postal_address=settings.postal_address,
    )


def load_dkim(settings: Settings) -> DkimSigner | None:
    if not (settings.dkim_selector and settings.dkim_domain and settings.dkim_key_path):
        return None
    pem = Path(settings.dkim_key_path).read_bytes()
    return DkimSigner(settings.dkim_selector, settings.dkim_domain, pem)


@dataclass
class _EditionCache:
    compiled: CompiledEdition
    segments: OrderedDict[int, MessageTemplate]
    upcoming: dict[int, list[str]] = field(default_factory=dict)  # prefetched paper keys


class DigestComposer:
    """Composes digest messages for any edition; holds the per-edition and per-segment work."""

    def __init__(
        self, factory: sessionmaker[Session], settings: Settings, links: LinkMaker
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.links = links
        self.envelope_from = settings.sender_address
        self.dkim = load_dkim(settings)
        self._editions: dict[int, _EditionCache] = {}
        self.compiles = 0  # how many times MJML + premailer ran (tests and benchmarks read it)

    def compiled(self, edition_id: int) -> CompiledEdition:
        return self._edition(edition_id).compiled

    def _edition(self, edition_id: int) -> _EditionCache:
        cached = self._editions.get(edition_id)
        if cached is None:
            with self.factory() as session:
                edition = session.get(Edition, edition_id)
                if edition is None:
                    raise LookupError(f"edition {edition_id} does not exist")
                content = edition_content(session, edition, self.settings)
            cached = _EditionCache(compile_edition(content), OrderedDict())
            self.compiles += 1
            self._editions = {edition_id: cached}  # one edition at a time keeps memory flat
        return cached

    def template(self, edition_id: int, segment_id: int) -> MessageTemplate:
        cache = self._edition(edition_id)
        template = cache.segments.get(segment_id)
        if template is not None:
            cache.segments.move_to_end(segment_id)
            return template
        body = cache.compiled.assemble(self._paper_keys(edition_id, cache, segment_id))
        s = self.settings
        template = MessageTemplate.build(
            html=body.html,
            text=body.text,
            subject=body.subject,
            from_addr=s.sender_address,
            from_name=s.sender_name,
            list_id=f"{s.site_name} digest <digest.{s.sender_domain}>",
            feedback_id=f"edition{edition_id}:digest:paperround",
            sender_domain=s.sender_domain,
        )
        cache.segments[segment_id] = template
        if len(cache.segments) > SEGMENT_CACHE:
            cache.segments.popitem(last=False)
        return template

    def _paper_keys(self, edition_id: int, cache: _EditionCache, segment_id: int) -> list[str]:
        keys = cache.upcoming.pop(segment_id, None)
        if keys is None:
            with self.factory() as session:
                rows = session.execute(
                    select(Segment.id, Segment.paper_ids)
                    .where(Segment.edition_id == edition_id, Segment.id >= segment_id)
                    .order_by(Segment.id)
                    .limit(SEGMENT_PREFETCH)
                ).tuples()
                cache.upcoming = {sid: [str(pid) for pid in ids] for sid, ids in rows}
            keys = cache.upcoming.pop(segment_id, None)
            if keys is None:
                raise LookupError(f"segment {segment_id} of edition {edition_id} does not exist")
        return keys

    def compose(self, job: Job) -> Composed:
        template = self.template(job.edition_id, job.segment_id)
        unsubscribe = self.links.unsubscribe(job.subscriber_id, job.token_version)
        personal = {
            UNSUBSCRIBE_PLACEHOLDER: unsubscribe,
            PREFERENCES_PLACEHOLDER: self.links.preferences(job.subscriber_id, job.token_version),
            BROWSER_PLACEHOLDER: self.links.archive(job.edition_id),
        }
        message_id = new_message_id(self.settings.sender_domain)
        message = template.render_for(
            smtp_address(job.email),
            personal,
            unsubscribe_url=unsubscribe,
            unsubscribe_mailto=f"mailto:unsubscribe@{self.settings.sender_domain}"
            f"?subject=unsubscribe%20{job.subscriber_id}",
            message_id=message_id,
        )
        if self.dkim is not None:
            message = self.dkim.sign(message)
        return Composed(message=message, message_id=message_id)
