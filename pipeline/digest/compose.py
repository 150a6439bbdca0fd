"""Composing digest messages: the Composer the send loop uses, and previews use too.

Cost per edition: one compile (Jinja2 -> MJML -> premailer). Per segment: a string assembly
and one MIME encoding (MessageTemplate). Per reader: two signed links and a byte splice: a
~100 KB message costs 4-6 ms to build with `email.message`, ~0.3 ms spliced. Segments are
cached in a small LRU: deliveries arrive ordered by segment (the claim order), so memory stays
flat however many segments an edition has.

Composing reads nothing from the store itself: each claimed delivery carries its segment's
papers, and the edition's content comes from the `editions` loader it was handed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pipeline.delivery.ledger import ClaimedDelivery
from pipeline.delivery.sending import Composed
from pipeline.digest.planning import edition_papers
from pipeline.mail.dkim import DkimSigner
from pipeline.mail.message import MessageTemplate, Sender, new_message_id
from pipeline.ranking.ranked import RankedPaper
from pipeline.readers.addresses import smtp_address
from pipeline.readers.links import LinkMaker
from pipeline.readers.view_links import ViewLinks
from pipeline.render.edition import CompiledEdition, compile_edition
from pipeline.render.model import DigestPaper, EditionContent, Site
from pipeline.render.placeholders import DigestLinks
from pipeline.store.models import Edition, Segment
from pipeline.store.status import Cadence

SEGMENT_CACHE = 64
SHOWCASE = 30  # papers a view without readers shows (the archive, a whole-edition preview)


@dataclass(frozen=True)
class SegmentExtras:
    """What a segment adds to its papers: each card's reasons and which cards are by
    followed authors."""

    reasons: tuple[tuple[str, ...], ...] = ()
    followed: tuple[bool, ...] = ()


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
        summary=paper.summary,
    )


def shown_paper_ids(session: Session, edition: Edition) -> list[int]:
    """The papers an edition's messages can show: every paper of its segments, and its top
    SHOWCASE, in edition order. Every paper of the window is a candidate, but only these
    are compiled."""
    chosen: set[int] = set(edition.paper_ids[:SHOWCASE])
    for (paper_ids,) in session.execute(
        select(Segment.paper_ids).where(Segment.edition_id == edition.id)
    ):
        chosen.update(paper_ids)
    return [pid for pid in edition.paper_ids if pid in chosen]


def edition_content(
    session: Session,
    edition: Edition,
    site: Site,
    gravity: float = 1.5,
    paper_ids: Sequence[int] | None = None,
) -> EditionContent:
    """The edition's content with `paper_ids` (default: its top SHOWCASE papers)."""
    wanted = list(paper_ids) if paper_ids is not None else edition.paper_ids[:SHOWCASE]
    papers = edition_papers(session, edition, gravity, only=wanted)
    return EditionContent(
        edition_id=edition.id,
        cadence="weekly" if edition.cadence == Cadence.WEEKLY else "daily",
        date=edition.slot_date,
        papers=[digest_paper(p) for p in papers],
        site_name=site.name,
        base_url=site.base_url,
        postal_address=site.postal_address,
    )


def edition_loader(
    factory: sessionmaker[Session], site: Site, gravity: float
) -> Callable[[int], EditionContent]:
    """Reads an edition's content from the store, for a composer: every paper its segments
    show (and the showcase), as of now."""

    def load(edition_id: int) -> EditionContent:
        with factory() as session:
            edition = session.get(Edition, edition_id)
            if edition is None:
                raise LookupError(f"edition {edition_id} does not exist")
            return edition_content(
                session, edition, site, gravity, shown_paper_ids(session, edition)
            )

    return load


def segment_loader(factory: sessionmaker[Session]) -> Callable[[int], SegmentExtras]:
    """Reads a segment's reasons and followed cards, for a composer."""

    def load(segment_id: int) -> SegmentExtras:
        with factory() as session:
            row = session.execute(
                select(Segment.paper_ids, Segment.reasons, Segment.followed).where(
                    Segment.id == segment_id
                )
            ).first()
        if row is None:
            raise LookupError(f"segment {segment_id} does not exist")
        return extras_of(*row)

    return load


def extras_of(
    paper_ids: Sequence[int],
    reasons: Sequence[Sequence[str]] | None,
    followed: Sequence[int] | None,
) -> SegmentExtras:
    """A segment row's reasons and followed positions as the composer takes them."""
    marked = set(followed or ())
    return SegmentExtras(
        reasons=tuple(tuple(r) for r in reasons or ()),
        followed=tuple(i in marked for i in range(len(paper_ids))) if marked else (),
    )


class DigestComposer:
    """Composes digest messages for any edition; holds the per-edition and per-segment work.

    `message_for` is the one way a digest message is made: sends (`compose`), previews and
    the archive all go through it, so what an admin previews is what a reader gets.
    """

    def __init__(
        self,
        editions: Callable[[int], EditionContent],
        sender: Sender,
        links: LinkMaker,
        dkim: DkimSigner | None = None,
        segments: Callable[[int], SegmentExtras] | None = None,
        views: ViewLinks | None = None,
    ) -> None:
        self._load = editions
        self.views = views
        self._load_segment = segments
        self._extras: OrderedDict[int, SegmentExtras] = OrderedDict()
        self.sender = sender
        self.links = links
        self.envelope_from = sender.address
        self.dkim = dkim
        self._edition_id: int | None = None
        self._compiled: CompiledEdition | None = None
        self._segments: OrderedDict[
            tuple[tuple[str, ...], SegmentExtras, bool], MessageTemplate
        ] = OrderedDict()
        self.compiles = 0  # how many times MJML + premailer ran (tests and benchmarks read it)

    def reading(
        self,
        editions: Callable[[int], EditionContent],
        segments: Callable[[int], SegmentExtras] | None = None,
    ) -> DigestComposer:
        """The same composer reading editions elsewhere (a preview's uncommitted plan)."""
        return DigestComposer(editions, self.sender, self.links, self.dkim, segments, self.views)

    def compiled(self, edition_id: int, needs: Sequence[str] = ()) -> CompiledEdition:
        """The edition compiled once (one edition at a time keeps memory flat), and again
        when a segment planned since shows a paper the compiled edition lacks."""
        stale = self._compiled is not None and any(
            key not in self._compiled.index_of for key in needs
        )
        if self._compiled is None or self._edition_id != edition_id or stale:
            self._compiled = compile_edition(self._load(edition_id))
            self._edition_id = edition_id
            self._segments.clear()
            self.compiles += 1
        return self._compiled

    def template(
        self,
        edition_id: int,
        paper_keys: Sequence[str],
        extras: SegmentExtras | None = None,
        *,
        feedback: bool = False,
    ) -> MessageTemplate:
        """The MIME message of the readers who get these papers, in this order, with these
        reasons (and feedback links when `feedback`)."""
        compiled = self.compiled(edition_id, paper_keys)
        extras = extras or SegmentExtras()
        key = (tuple(paper_keys), extras, feedback)
        template = self._segments.get(key)
        if template is not None:
            self._segments.move_to_end(key)
            return template
        body = compiled.assemble(key[0], extras.reasons, extras.followed, feedback=feedback)
        template = MessageTemplate.build(
            html=body.html_parts,
            text=body.text_parts,
            subject=body.subject,
            from_addr=self.sender.address,
            from_name=self.sender.name,
            list_id=self.sender.list_id,
            feedback_id=f"edition{edition_id}:digest:paperround",
            sender_domain=self.sender.domain,
        )
        self._segments[key] = template
        if len(self._segments) > SEGMENT_CACHE:
            self._segments.popitem(last=False)
        return template

    def reader_links(
        self,
        link_id: str,
        token_version: int,
        edition_id: int,
        paper_ids: Sequence[int] = (),
    ) -> DigestLinks:
        """A reader's links: "view in your browser" opens their own digest (the archive's
        edition page without view links); with `paper_ids`, a feedback link per card too."""
        view = (
            self.views.url(link_id, token_version, edition_id)
            if self.views is not None
            else self.links.archive(edition_id)
        )
        return DigestLinks(
            unsubscribe_url=self.links.unsubscribe(link_id, token_version),
            preferences_url=self.links.preferences(link_id, token_version),
            view_in_browser_url=view,
            feedback_urls=tuple(
                self.links.feedback(link_id, token_version, pid) for pid in paper_ids
            ),
        )

    def extras(self, segment_id: int) -> SegmentExtras:
        """A segment's reasons and followed cards, read once while it is being sent."""
        load = self._load_segment
        if load is None:
            return SegmentExtras()
        return self._remembered(segment_id, lambda: load(segment_id))

    def _remembered(self, segment_id: int, make: Callable[[], SegmentExtras]) -> SegmentExtras:
        """The segment's extras from the last SEGMENT_CACHE segments, or made and kept."""
        found = self._extras.get(segment_id)
        if found is None:
            found = self._extras[segment_id] = make()
            if len(self._extras) > SEGMENT_CACHE:
                self._extras.popitem(last=False)
        else:
            self._extras.move_to_end(segment_id)
        return found

    def message_for(
        self,
        edition_id: int,
        paper_keys: Sequence[str],
        to_addr: str,
        links: DigestLinks,
        message_id: str,
        date: datetime | None = None,
        extras: SegmentExtras | None = None,
    ) -> bytes:
        """One reader's complete digest message (signed when DKIM is set up); with feedback
        links when the reader's links carry them."""
        template = self.template(edition_id, paper_keys, extras, feedback=bool(links.feedback_urls))
        message = template.render_for(
            smtp_address(to_addr),
            links.values(),
            unsubscribe_url=links.unsubscribe_url,
            unsubscribe_mailto="",
            message_id=message_id,
            date=date,
        )
        if self.dkim is not None:
            message = self.dkim.sign(message)
        return message

    def compose(self, delivery: ClaimedDelivery) -> Composed:
        message_id = new_message_id(self.sender.domain)
        links = self.reader_links(
            delivery.link_id, delivery.token_version, delivery.edition_id, delivery.paper_ids
        )
        message = self.message_for(
            delivery.edition_id,
            [str(pid) for pid in delivery.paper_ids],
            delivery.email,
            links,
            message_id,
            extras=self.extras_for(delivery),
        )
        # render_for's messages (DKIM-signed or not) start no line with ".": no dot-stuffing
        return Composed(message=message, message_id=message_id, transparent=True)

    def extras_for(self, delivery: ClaimedDelivery) -> SegmentExtras:
        """The segment's extras from the claim when it read them, else from the store."""
        notes = delivery.segment_notes
        if notes is None:
            return self.extras(delivery.segment_id)
        return self._remembered(delivery.segment_id, lambda: extras_of(delivery.paper_ids, *notes))
