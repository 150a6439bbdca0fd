"""Typed SQLAlchemy models.

Timestamps are timezone-aware UTC; defaults run per row (a callable), never once at import.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from pipeline.store.status import (
    AttemptKind,
    AttemptOutcome,
    Cadence,
    ConsentChannel,
    DeliveryStatus,
    EditionStatus,
    EnumText,
    RatingVia,
    SourceStatus,
    SubscriberStatus,
    SuppressionReason,
)
from pipeline.timeutil import utcnow

# BIGINT on PostgreSQL, INTEGER (the rowid alias, so it autoincrements) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; SQLite hands back naive values, so tag them as UTC again."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use pipeline.timeutil.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_link_id() -> str:
    """An opaque, unguessable id for a reader's signed links (96 random bits, hex)."""
    return secrets.token_hex(12)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON, list[int]: JSON}


class Source(Base):
    """A feed Paperround fetches, with the validators and outcome of its last fetch.

    `kind` is a format name (pipeline/ingest/formats) or "auto" until the first fetch that
    parsed; `last_status` is a SourceStatus: ok, not_modified or failed (None: never fetched).
    `options` holds per-source parsing options ("id_pattern": where a site's links carry the
    arXiv id); `failures` counts fetches failed in a row and `next_fetch_at` is when the
    source may be fetched again (a server's Retry-After, or backoff after failures).
    """

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(String(2000))
    enabled: Mapped[bool] = mapped_column(default=True)
    interval_minutes: Mapped[int] = mapped_column(Integer, default=60)
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    last_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[SourceStatus | None] = mapped_column(EnumText(SourceStatus))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_counts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_fetch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sightings: Mapped[list[Sighting]] = relationship(back_populates="source", passive_deletes=True)


RELISTED_PREDICATE = "published_at > listed_at"


class Paper(Base):
    """One paper, however many sources carry it: keyed by arXiv id, else DOI, else canonical URL.

    `listed_at` is when the paper was first announced to Paperround as a paper of the day
    (a new or cross-listed arXiv entry, a featured or feed item); None while it has only been
    seen as a replacement of an older paper, which is news to no reader. `title_key` is the
    title folded for matching an entry without an id to it (pipeline/ingest/twins.py).
    `summary`, `keywords`, `organization` and `featured_at` come from sources that have
    them (Hugging Face daily papers: ai_summary, ai_keywords, organization, submittedOnDailyAt).
    """

    __tablename__ = "papers"
    __table_args__ = (
        # The three orders pipeline/ranking/top.py walks to find the top few papers of a
        # window without reading it all: by upvotes; by listing (id breaks ties, so a walk
        # can resume inside a batch of papers stored at the same instant); and by
        # publication, for the few papers published after they were listed (their age
        # counts from then). Windows are by listing: ranking/ranked.py reads them too.
        Index("ix_papers_upvotes_order", "upvotes", "listed_at", "id"),
        Index("ix_papers_listed_order", "listed_at", "id"),
        Index(
            "ix_papers_relisted",
            "published_at",
            postgresql_where=text(RELISTED_PREDICATE),
            sqlite_where=text(RELISTED_PREDICATE),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(600), unique=True)
    arxiv_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    doi: Mapped[str | None] = mapped_column(String(300))
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    primary_category: Mapped[str | None] = mapped_column(String(40))
    links: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    comment: Mapped[str | None] = mapped_column(Text)
    thumbnail: Mapped[str | None] = mapped_column(String(2000))
    version: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    upvotes: Mapped[int] = mapped_column(Integer, default=0)
    num_comments: Mapped[int] = mapped_column(Integer, default=0)
    github_stars: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[list[str] | None] = mapped_column(JSON)
    organization: Mapped[str | None] = mapped_column(String(200))
    featured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    title_key: Mapped[str | None] = mapped_column(String(300), index=True)
    listed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sightings: Mapped[list[Sighting]] = relationship(back_populates="paper", passive_deletes=True)


class Sighting(Base):
    """A paper as carried by one source: when first and last seen there, and its upvotes there."""

    __tablename__ = "sightings"
    __table_args__ = (UniqueConstraint("paper_id", "source_id", name="uq_sighting_paper_source"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    announce_type: Mapped[str | None] = mapped_column(String(20))
    upvotes: Mapped[int | None] = mapped_column(Integer)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    paper: Mapped[Paper] = relationship(back_populates="sightings")
    source: Mapped[Source] = relationship(back_populates="sightings")


class UpvoteSnapshot(Base):
    """An upvote count observed at a time, kept only when it changed: the history velocity uses."""

    __tablename__ = "upvote_snapshots"
    __table_args__ = (Index("ix_upvote_snapshots_paper_time", "paper_id", "observed_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    upvotes: Mapped[int] = mapped_column(Integer)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Subscriber(Base):
    """A reader: address, life-cycle status, consent record and digest preferences.

    `email` keeps the address as given (domain lower-cased, IDN as Unicode); `email_key` is its
    case-folded form, unique, so "Ann@X.org" and "ann@x.org" are one reader.

    status (SubscriberStatus): pending -> active -> unsubscribed -> pending (subscribing
    again, confirmed by the reader); bounced and complained are written by suppression. No code
    path makes a reader who left, bounced or complained active again without the reader's own
    confirmation. `link_id` is the opaque id signed links carry (never the row id).
    """

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    link_id: Mapped[str] = mapped_column(
        String(32),
        default=new_link_id,
        unique=True,  # uq_subscribers_link_id
    )
    status: Mapped[SubscriberStatus] = mapped_column(
        EnumText(SubscriberStatus), default=SubscriberStatus.PENDING, index=True
    )
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    cadence: Mapped[Cadence] = mapped_column(EnumText(Cadence, 10), default=Cadence.DAILY)
    papers_per_digest: Mapped[int] = mapped_column(Integer, default=10)
    send_hour: Mapped[int] = mapped_column(Integer, default=8)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    weekly_day: Mapped[int] = mapped_column(Integer, default=0)  # 0 = Monday
    paused: Mapped[bool] = mapped_column(default=False)
    token_version: Mapped[int] = mapped_column(Integer, default=1)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_channel: Mapped[ConsentChannel | None] = mapped_column(EnumText(ConsentChannel))
    consent_ip: Mapped[str | None] = mapped_column(String(64))
    consent_user_agent: Mapped[str | None] = mapped_column(String(500))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Suppression(Base):
    """An address we must not mail, checked before every send and every subscribe or import.

    reason (SuppressionReason): bounced (a permanent SMTP refusal of the address), complained,
    admin (`paperround suppressions add`), erased (`subscribers remove`: the address is kept
    only as a hash, `email_key` = "sha256:<hex>", so a later import cannot re-add it).
    """

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    reason: Mapped[SuppressionReason] = mapped_column(EnumText(SuppressionReason))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SuppressionLog(Base):
    """Every suppression added or lifted: the audit trail of `paperround suppressions`."""

    __tablename__ = "suppression_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email_key: Mapped[str] = mapped_column(String(320), index=True)
    action: Mapped[str] = mapped_column(String(10))  # add | remove
    reason: Mapped[SuppressionReason] = mapped_column(EnumText(SuppressionReason))
    detail: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))  # "cli", "send loop", "import", ...
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Edition(Base):
    """One issue of the digest for a cadence and date slot, with its ranked papers.

    status (EditionStatus): planned -> done once no delivery is open; a deliberate resend
    sets sending; readers planned into a done edition set it back to planned; paused (by the
    send loop when the relay refuses alike or too often, or by an admin) until resumed;
    cancelled by an admin. `status_reason` says why an edition is paused or cancelled.
    """

    __tablename__ = "editions"
    __table_args__ = (UniqueConstraint("cadence", "slot_date", name="uq_edition_slot"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cadence: Mapped[Cadence] = mapped_column(EnumText(Cadence, 10))
    slot_date: Mapped[date] = mapped_column(Date)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    paper_ids: Mapped[list[int]] = mapped_column(JSON, default=list)  # ranked, best first
    subject: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[EditionStatus] = mapped_column(
        EnumText(EditionStatus), default=EditionStatus.PLANNED
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_reason: Mapped[str | None] = mapped_column(Text)
    # What `status` and `editions show` say about the edition's rows, so neither counts
    # history (pipeline/delivery/summary.py): {"deliveries": {status: n}, "segments": n}.
    # `summary` is written when the edition closes (done or cancelled, no open row) and
    # covers every row it ever had; None: count the rows. `compacted` is what retention
    # removed (pipeline/store/maintenance.py), same shape; `compacted_at` when the last went.
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    compacted: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    compacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Segment(Base):
    """Readers of an edition who get the same papers: rendered once, personalized per reader."""

    __tablename__ = "segments"
    __table_args__ = (
        UniqueConstraint("edition_id", "selection_hash", name="uq_segment_selection"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    selection_hash: Mapped[str] = mapped_column(String(64))
    paper_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    # why each paper is there, one list of short phrases per paper (paper_ids' order)
    reasons: Mapped[list[list[str]] | None] = mapped_column(JSON)
    # positions (in paper_ids) of papers by authors the readers follow: a section of their own
    followed: Mapped[list[int] | None] = mapped_column(JSON)


ONLY_ON = "paperround_only_on"  # Index.info key: the one dialect the migrations create it on


def exists_on(dialect: str) -> Callable[..., bool]:
    """Alembic `include_object` hook: leave out indexes the migrations create only on
    another dialect, so comparing the models with a database sees no phantom difference."""

    def include(
        obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
    ) -> bool:
        only_on = getattr(obj, "info", {}).get(ONLY_ON) if type_ == "index" else None
        return only_on is None or only_on == dialect

    return include


# What a row still waits for, as a column the database computes from `status`: a sender
# (pending, retry) or an admin (unknown); NULL for every other state. The claim and sweep
# index covers this column, never `status`: claimed -> sending -> sent leaves it NULL, so on
# PostgreSQL those per-message updates change no indexed column and are HOT (the row is
# rewritten in its page, no index gets an entry). Spelled as PostgreSQL prints it back, so
# comparing the models with the database sees no difference.
WAITING_SQL = (
    "CASE status WHEN 'pending' THEN status WHEN 'retry' THEN status "
    "WHEN 'unknown' THEN status ELSE NULL END"
)
WAITING_PREDICATE = "waiting IS NOT NULL"


class Delivery(Base):
    """The ledger row of one (edition, reader): claimed before sending, settled after.

    status (DeliveryStatus): pending -> claimed -> sending -> sent | retry | failed | unknown;
    claimed -> skipped (reader no longer mailable) | failed (could not compose) | pending
    (given back); retry -> claimed again when due; unknown -> sent | retry (reconciled) and
    any settled row -> pending (a deliberate resend). `claim_token` names the sender holding
    the claim, so only it can settle the row. Rows in flight are also listed in
    delivery_claims (the sweeps find them there). On PostgreSQL the table keeps free space in
    each page (fillfactor, migration 0007) for those in-page updates.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("edition_id", "subscriber_id", name="uq_delivery_edition_reader"),
        # Rows waiting for something, by state and edition, in claim order (segment, id): a
        # claim reads only the rows it takes, the sweeps only the work left, and a partial
        # index stays as small as that work while the table keeps every recent edition.
        Index(
            "ix_deliveries_waiting",
            "waiting",
            "edition_id",
            "segment_id",
            "id",
            postgresql_where=text(WAITING_PREDICATE),
            sqlite_where=text(WAITING_PREDICATE),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    # Indexed for the foreign key: retention deletes an edition's segments, and each
    # deletion looks for deliveries still pointing at the segment.
    segment_id: Mapped[int] = mapped_column(
        ForeignKey("segments.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[DeliveryStatus] = mapped_column(
        EnumText(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    waiting: Mapped[str | None] = mapped_column(String(20), Computed(WAITING_SQL))


class DeliveryClaim(Base):
    """A delivery a sender claimed: how the sweeps find rows in flight without an index on
    `deliveries.status` (which would make every per-message update rewrite every index).

    Written with the claim, in its transaction; the sender removes its rows when its batch
    ends, the sweep those of senders that died. A row here whose delivery is no longer
    claimed or sending by `claim_token` means nothing and is removed by either.
    """

    __tablename__ = "delivery_claims"

    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    claim_token: Mapped[str] = mapped_column(String(64), primary_key=True)


class DeliveryAttempt(Base):
    """Every try at a delivery, kept for audit.

    kind (AttemptKind): send, resend (an admin request; outcome requested) or reconcile;
    outcome (AttemptOutcome): sent, retry, failed, unknown or requested.
    """

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[AttemptKind] = mapped_column(EnumText(AttemptKind), default=AttemptKind.SEND)
    outcome: Mapped[AttemptOutcome] = mapped_column(EnumText(AttemptOutcome))
    code: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SentHistory(Base):
    """The papers one reader got (or may have got: unknown) in one edition, kept after
    retention removed the edition's deliveries and segments: "never the same paper twice"
    and the relevance model read it (pipeline/delivery/history.py). Written only by
    retention, so sending pays nothing for it; ~1/5 of the bytes of the rows it replaces.
    """

    __tablename__ = "sent_history"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    edition_id: Mapped[int] = mapped_column(
        ForeignKey("editions.id", ondelete="CASCADE"), primary_key=True
    )
    paper_ids: Mapped[list[int]] = mapped_column(JSON, default=list)


class Rating(Base):
    """A reader's thumbs up (+1) or down (-1) on a paper: "more like this", "less like this".

    One per (reader, paper); rating again replaces it, clearing deletes it. `via` says where
    it came from (RatingVia: email, web, cli). Deleted with the reader or the paper.
    """

    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("subscriber_id", "paper_id", name="uq_rating_reader_paper"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    value: Mapped[int] = mapped_column(SmallInteger)
    via: Mapped[RatingVia] = mapped_column(EnumText(RatingVia, 10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReaderInterests(Base):
    """What a reader told us beyond categories and keywords (pipeline/readers/interests.py).

    seeds: arXiv ids of papers they like ("papers like these"); follow_authors: their papers
    always make the digest; mute_authors and exclude_keywords: never; relevance_weight: how
    much personal relevance counts against community trending (0..1; None: the default);
    min_score: papers scoring below it are left out (None: none are); skip_empty: no email
    when nothing is left. `changed_at` and `rated_at` say when seeds or ratings last changed
    and `trained_at` when the reader's model was last trained, so only readers with new
    feedback are trained again.
    """

    __tablename__ = "reader_interests"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    seeds: Mapped[list[str]] = mapped_column(JSON, default=list)
    follow_authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    mute_authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    exclude_keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    relevance_weight: Mapped[float | None] = mapped_column(Float)
    min_score: Mapped[float | None] = mapped_column(Float)
    skip_empty: Mapped[bool] = mapped_column(default=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    trained_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RelevanceVectorizer(Base):
    """A fitted text vectorizer (vocabulary, idf, category list: pipeline/relevance/features.py).

    Versioned: each reader model names the version it was trained with, and a version stays
    until no model uses it, so refitting never invalidates a model in the middle of a day.
    """

    __tablename__ = "relevance_vectorizers"

    version: Mapped[int] = mapped_column(BigId, primary_key=True)
    fitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    papers: Mapped[int] = mapped_column(Integer)
    terms: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class RelevanceModel(Base):
    """One reader's relevance model (pipeline/relevance/model.py): kind "logistic" once they
    have rated a few papers, "prototypes" (similarity to the papers they gave) before that.
    `data` holds the sparse weights and the prototypes' vectors; `prototype_ids` the papers
    behind "similar to ..." reasons."""

    __tablename__ = "relevance_models"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    vectorizer_version: Mapped[int] = mapped_column(
        ForeignKey("relevance_vectorizers.version"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    ratings: Mapped[int] = mapped_column(Integer)
    prototype_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    data: Mapped[bytes] = mapped_column(LargeBinary)
