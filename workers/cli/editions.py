"""`paperround editions list|show|pause|resume|cancel`: planned and sent editions."""

from __future__ import annotations

import click

from pipeline.delivery.control import cancel_edition, pause_edition, resume_edition
from pipeline.delivery.queries import edition_summary, failures, latest_editions
from pipeline.digest.planning import papers_of_edition
from workers.cli.output import emit, json_option
from workers.cli.runtime import Runtime, friendly_errors, pass_runtime
from workers.cli.status import counts_line


@click.group()
def editions() -> None:
    """Look at planned and sent editions."""


@editions.command("list")
@click.option("--limit", default=30, show_default=True, type=click.IntRange(1))
@json_option
@pass_runtime
@friendly_errors
def editions_list(rt: Runtime, limit: int, as_json: bool) -> None:
    """The latest editions with their delivery counts."""
    with rt.sessions() as session:
        rows = latest_editions(session, limit)

    def human() -> None:
        if not rows:
            click.echo("no editions yet; `paperround digest plan` makes one")
        for r in rows:
            click.echo(
                f"#{r.id:<5} {r.cadence:<6} {r.slot_date} {r.status:<8} "
                f"{r.papers} papers, {r.segments} segments: "
                + counts_line(r.deliveries, "no deliveries")
            )

    emit(rows, as_json, human)


@editions.command("show")
@click.argument("edition_id", type=int)
@json_option
@pass_runtime
@friendly_errors
def editions_show(rt: Runtime, edition_id: int, as_json: bool) -> None:
    """One edition: window, papers, segments, deliveries by status, recent failures."""
    with rt.sessions() as session:
        summary = edition_summary(session, edition_id)
        papers = papers_of_edition(session, edition_id, rt.settings.ranking_gravity)
        if summary is None or papers is None:
            raise click.ClickException(
                f"edition {edition_id} does not exist; see `paperround editions list`"
            )
        top = [
            {"arxiv_id": p.arxiv_id, "title": p.title, "upvotes": p.upvotes} for p in papers[:10]
        ]
        failed = failures(session, edition_id)
    data = {**summary.as_json(), "top_papers": top, "failures": [f.as_json() for f in failed]}

    def human() -> None:
        s = summary
        click.echo(f"edition #{s.id}: {s.cadence} {s.slot_date}, {s.status}")
        if s.status_reason:
            click.echo(f"  why {s.status}: {s.status_reason}")
        click.echo(
            f"  window: {s.window_start:%Y-%m-%d %H:%M} .. {s.window_end:%Y-%m-%d %H:%M} UTC"
        )
        click.echo(f"  {s.papers} papers, {s.segments} segments")
        click.echo("  deliveries: " + counts_line(s.deliveries, "none"))
        for p in top:
            click.echo(
                f"  - {p['title']} ({p['arxiv_id'] or 'no arXiv id'}, {p['upvotes']} upvotes)"
            )
        for f in failed:
            click.echo(
                f"  ! delivery {f.delivery_id} to {f.email}: {f.status} "
                f"{f.code or ''} {f.error or ''}".rstrip()
            )

    emit(data, as_json, human)


@editions.command("pause")
@click.argument("edition_id", type=int)
@click.option("--reason", default="paused by an admin", show_default=True, help="Shown by status.")
@pass_runtime
@friendly_errors
def editions_pause(rt: Runtime, edition_id: int, reason: str) -> None:
    """Stop sending edition EDITION_ID; its readers wait in the ledger until it is resumed."""
    if pause_edition(rt.sessions, edition_id, reason):
        click.echo(
            f"edition {edition_id} paused; `paperround editions resume {edition_id}` goes on"
        )
    else:
        click.echo(f"edition {edition_id} was already paused or cancelled")


@editions.command("resume")
@click.argument("edition_id", type=int)
@pass_runtime
@friendly_errors
def editions_resume(rt: Runtime, edition_id: int) -> None:
    """Let a paused edition send again (the workers pick it up within a minute or two)."""
    resume_edition(rt.sessions, edition_id)
    click.echo(
        f"edition {edition_id} resumed; `paperround digest send --edition {edition_id}` sends "
        "it now in this process, or the workers pick it up on their next round"
    )


@editions.command("cancel")
@click.argument("edition_id", type=int)
@click.option("--reason", default="cancelled by an admin", show_default=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_runtime
@friendly_errors
def editions_cancel(rt: Runtime, edition_id: int, reason: str, yes: bool) -> None:
    """Stop edition EDITION_ID for good: readers not sent yet are skipped (not resent later)."""
    if not yes and not click.confirm(f"Cancel edition {edition_id} for every reader not sent yet?"):
        raise click.exceptions.Exit(1)
    skipped = cancel_edition(rt.sessions, edition_id, reason)
    click.echo(f"edition {edition_id} cancelled; {skipped} waiting deliveries skipped")
