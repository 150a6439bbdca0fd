"""`paperround editions list|show|pause|resume|cancel`: planned and sent editions."""

from __future__ import annotations

import click

from pipeline.delivery.control import cancel_edition, pause_edition, resume_edition
from pipeline.delivery.inspect import edition_failures
from pipeline.delivery.queries import edition_summary, latest_editions
from pipeline.digest.planning import papers_of_edition
from workers.cli.output import emit, json_option
from workers.cli.runtime import Runtime, friendly_errors, pass_runtime
from workers.cli.status import counts_line, plural

SHOWN_PAPERS = 10
SHOWN_FAILURES = 50


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
                f"{plural(r.papers, 'paper')}, {plural(r.segments, 'segment')}: "
                + counts_line(r.deliveries, "no deliveries")
            )

    emit(rows, as_json, human)


@editions.command("show")
@click.argument("edition_id", type=int)
@click.option("--all", "everything", is_flag=True, help="List every paper, not the first 10.")
@json_option
@pass_runtime
@friendly_errors
def editions_show(rt: Runtime, edition_id: int, everything: bool, as_json: bool) -> None:
    """One edition: window, papers, segments, deliveries by status, and each failure with
    the reader's address and the server's reply."""
    with rt.sessions() as session:
        summary = edition_summary(session, edition_id)
        papers = papers_of_edition(session, edition_id, rt.settings.ranking_gravity)
        if summary is None or papers is None:
            raise click.ClickException(
                f"edition {edition_id} does not exist; see `paperround editions list`"
            )
        listed = [{"arxiv_id": p.arxiv_id, "title": p.title, "upvotes": p.upvotes} for p in papers]
        failed, failed_total = edition_failures(session, edition_id, SHOWN_FAILURES)
    data = {
        **summary.as_json(),
        "top_papers": listed[:SHOWN_PAPERS],
        "papers_listed": listed,
        "failures": [f.as_json() for f in failed],
        "failure_count": failed_total,
    }

    def human() -> None:
        s = summary
        click.echo(f"edition #{s.id}: {s.cadence} {s.slot_date}, {s.status}")
        if s.status_reason:
            click.echo(f"  why {s.status}: {s.status_reason}")
        click.echo(
            f"  window: {s.window_start:%Y-%m-%d %H:%M} .. {s.window_end:%Y-%m-%d %H:%M} UTC"
        )
        click.echo(f"  {plural(s.papers, 'paper')}, {plural(s.segments, 'segment')}")
        click.echo("  deliveries: " + counts_line(s.deliveries, "none"))
        shown = listed if everything else listed[:SHOWN_PAPERS]
        for p in shown:
            votes = plural(int(str(p["upvotes"])), "upvote")
            click.echo(f"  - {p['title']} ({p['arxiv_id'] or 'no arXiv id'}, {votes})")
        if len(listed) > len(shown):
            more = len(listed) - len(shown)
            click.echo(f"  ... and {plural(more, 'more paper')} (`--all` lists them)")
        if failed_total:
            click.echo(f"  {plural(failed_total, 'failure')}:")
        for f in failed:
            reply = " ".join(str(part) for part in (f.code, f.error) if part) or "no reply"
            click.echo(f"  ! {f.email}: {f.status}, {reply} (delivery {f.delivery_id})")
        if failed_total > len(failed):
            click.echo(f"  ... and {plural(failed_total - len(failed), 'more failure')} (--json)")

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
