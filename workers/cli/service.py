"""`paperround run`, `paperround status` and `paperround editions ...`: operating the service."""

from __future__ import annotations

import sys
from typing import Any

import click
from sqlalchemy import func, select

from pipeline.store.models import Delivery, Edition, Segment, Source, Suppression
from pipeline.wiring import CAPTURE
from workers.cli.runtime import Runtime, echo_json, friendly_errors, pass_runtime
from workers.cli.sources import prepare_store


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Web address to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--concurrency",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes.",
)
@pass_runtime
@friendly_errors
def run(rt: Runtime, host: str, port: int, concurrency: int) -> None:
    """Run the whole service: web pages, a Celery worker, beat, and (on embedded defaults)
    the capture SMTP server. Ctrl-C stops everything."""
    from workers.supervisor import Supervisor, children

    s = rt.settings
    prepare_store(rt)
    kids = children(s, host, port, concurrency)
    click.echo(f"Paperround is starting: http://{host}:{port}/")
    click.echo(f"  store:  {rt.engine.url.render_as_string(hide_password=True)}")
    click.echo(
        f"  broker: {s.broker_url or 'filesystem queue under ' + str(s.data_dir / 'broker')}"
    )
    if s.smtp_url == CAPTURE:
        click.echo(
            f"  mail:   captured into the Maildir {s.maildir.resolve()} "
            "(open new/ with any mail client)"
        )
    else:
        click.echo("  mail:   sent through the configured SMTP relay")
    click.echo("  stop:   Ctrl-C")
    supervisor = Supervisor(kids)
    supervisor.start()
    code = supervisor.wait()
    click.echo("Paperround stopped.", err=True)
    sys.exit(code)


def _delivery_counts(session: Any, edition_id: int | None = None) -> dict[str, int]:
    query = select(Delivery.status, func.count()).group_by(Delivery.status)
    if edition_id is not None:
        query = query.where(Delivery.edition_id == edition_id)
    return {status: int(n) for status, n in session.execute(query)}


@click.command()
@click.option("--json", "as_json", is_flag=True)
@pass_runtime
@friendly_errors
def status(rt: Runtime, as_json: bool) -> None:
    """Sources and their last fetch, queue depths, editions in flight, deliveries, suppressions."""
    from workers.jobs.queues import queue_depths

    with rt.sessions() as session:
        sources = list(session.scalars(select(Source).order_by(Source.name)))
        in_flight = list(
            session.scalars(select(Edition).where(Edition.status != "done").order_by(Edition.id))
        )
        per_edition = {e.id: _delivery_counts(session, e.id) for e in in_flight}
        deliveries = _delivery_counts(session)
        suppressions = dict(
            session.execute(select(Suppression.reason, func.count()).group_by(Suppression.reason))
            .tuples()
            .all()
        )
    queues = queue_depths(rt.settings)
    data: dict[str, Any] = {
        "sources": [
            {
                "name": s.name,
                "status": s.last_status,
                "last_fetched_at": s.last_fetched_at,
                "error": s.last_error,
            }
            for s in sources
        ],
        "queues": queues,
        "editions_in_flight": [
            {
                "id": e.id,
                "cadence": e.cadence,
                "slot_date": str(e.slot_date),
                "status": e.status,
                "deliveries": per_edition[e.id],
            }
            for e in in_flight
        ],
        "deliveries": deliveries,
        "suppressions": suppressions,
    }
    if as_json:
        echo_json(data)
        return
    click.echo("sources:")
    for src in data["sources"]:
        when = (
            src["last_fetched_at"].strftime("%Y-%m-%d %H:%M") if src["last_fetched_at"] else "never"
        )
        click.echo(
            f"  {src['name']:<20} {src['status'] or 'not fetched':<13} {when}"
            + (f"  {src['error']}" if src["error"] else "")
        )
    click.echo("queues: " + ", ".join(f"{q} {n}" for q, n in queues.items()))
    click.echo(f"editions in flight: {len(in_flight)}")
    for e in data["editions_in_flight"]:
        counts = (
            ", ".join(f"{k} {v}" for k, v in sorted(e["deliveries"].items())) or "no deliveries"
        )
        click.echo(f"  #{e['id']} {e['cadence']} {e['slot_date']} ({e['status']}): {counts}")
    click.echo(
        "deliveries: " + (", ".join(f"{k} {v}" for k, v in sorted(deliveries.items())) or "none")
    )
    click.echo(
        "suppressions: "
        + (", ".join(f"{k} {v}" for k, v in sorted(suppressions.items())) or "none")
    )


@click.group()
def editions() -> None:
    """Look at planned and sent editions."""


def _edition_row(session: Any, e: Edition) -> dict[str, Any]:
    segments = session.scalar(select(func.count()).where(Segment.edition_id == e.id))
    return {
        "id": e.id,
        "cadence": e.cadence,
        "slot_date": str(e.slot_date),
        "status": e.status,
        "papers": len(e.paper_ids),
        "segments": int(segments or 0),
        "deliveries": _delivery_counts(session, e.id),
        "created_at": e.created_at,
        "completed_at": e.completed_at,
        "window_start": e.window_start,
        "window_end": e.window_end,
    }


@editions.command("list")
@click.option("--limit", default=30, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True)
@pass_runtime
@friendly_errors
def editions_list(rt: Runtime, limit: int, as_json: bool) -> None:
    """The latest editions with their delivery counts."""
    with rt.sessions() as session:
        rows = [
            _edition_row(session, e)
            for e in session.scalars(select(Edition).order_by(Edition.id.desc()).limit(limit))
        ]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no editions yet; `paperround digest plan` makes one")
    for r in rows:
        counts = (
            ", ".join(f"{k} {v}" for k, v in sorted(r["deliveries"].items())) or "no deliveries"
        )
        click.echo(
            f"#{r['id']:<5} {r['cadence']:<6} {r['slot_date']} {r['status']:<8} "
            f"{r['papers']} papers, {r['segments']} segments: {counts}"
        )


@editions.command("show")
@click.argument("edition_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_runtime
@friendly_errors
def editions_show(rt: Runtime, edition_id: int, as_json: bool) -> None:
    """One edition: window, papers, segments, deliveries by status, recent failures."""
    from pipeline.digest.planning import edition_papers

    with rt.sessions() as session:
        edition = session.get(Edition, edition_id)
        if edition is None:
            raise click.ClickException(
                f"edition {edition_id} does not exist; see `paperround editions list`"
            )
        row = _edition_row(session, edition)
        row["top_papers"] = [
            {"arxiv_id": p.arxiv_id, "title": p.title, "upvotes": p.upvotes}
            for p in edition_papers(session, edition, rt.settings.ranking_gravity)[:10]
        ]
        row["failures"] = [
            {"delivery_id": d.id, "status": d.status, "code": d.last_code, "error": d.last_error}
            for d in session.scalars(
                select(Delivery)
                .where(
                    Delivery.edition_id == edition_id, Delivery.status.in_(["failed", "unknown"])
                )
                .limit(20)
            )
        ]
    if as_json:
        echo_json(row)
        return
    click.echo(f"edition #{row['id']}: {row['cadence']} {row['slot_date']}, {row['status']}")
    click.echo(
        f"  window: {row['window_start']:%Y-%m-%d %H:%M} .. {row['window_end']:%Y-%m-%d %H:%M} UTC"
    )
    click.echo(f"  {row['papers']} papers, {row['segments']} segments")
    click.echo(
        "  deliveries: "
        + (", ".join(f"{k} {v}" for k, v in sorted(row["deliveries"].items())) or "none")
    )
    for p in row["top_papers"]:
        click.echo(f"  - {p['title']} ({p['arxiv_id'] or 'no arXiv id'}, {p['upvotes']} upvotes)")
    for f in row["failures"]:
        click.echo(
            f"  ! delivery {f['delivery_id']} {f['status']} {f['code'] or ''} {f['error'] or ''}"
        )
