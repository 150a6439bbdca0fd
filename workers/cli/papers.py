"""`paperround papers list`: the store, ranked by trending score."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime

import click

from pipeline.ranking.ranked import ranked_papers
from workers.cli.output import emit, json_option
from workers.cli.runtime import Runtime, friendly_errors, pass_runtime


@click.group()
def papers() -> None:
    """Look at stored papers."""


@papers.command("list")
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True)
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"]),
    default=None,
    help="Only papers listed (announced as new) on or after this date (UTC); replacements"
    " of older papers are never listed.",
)
@json_option
@pass_runtime
@friendly_errors
def papers_list(rt: Runtime, top: int, since: datetime | None, as_json: bool) -> None:
    """The top papers by trending score (upvotes, their velocity, sources, age)."""
    since_utc = since.replace(tzinfo=UTC) if since is not None else None
    with rt.sessions() as session:
        ranked = ranked_papers(
            session, top=top, since=since_utc, gravity=rt.settings.ranking_gravity
        )

    def human() -> None:
        if not ranked:
            click.echo("no papers yet; run `paperround ingest` first")
        for rank, paper in enumerate(ranked, start=1):
            ident = paper.arxiv_id or paper.key
            authors = ", ".join(paper.authors[:3]) + (" et al." if len(paper.authors) > 3 else "")
            click.echo(f"{rank:>3}. {paper.title}")
            click.echo(
                f"     {ident} | {paper.upvotes} upvotes | score {paper.score:.3f} | {authors}"
            )
            link = paper.links.get("abs") or paper.links.get("link") or ""
            if link:
                click.echo(textwrap.indent(link, "     "))

    emit(ranked, as_json, human)
