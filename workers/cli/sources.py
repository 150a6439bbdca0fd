"""`paperround init`, `paperround sources add|list|remove|enable|disable|set` and `ingest`."""

from __future__ import annotations

import sys

import click

from pipeline.ingest.catalog import (
    AUTO,
    SourceSpec,
    add_source,
    change_source,
    list_sources,
    remove_source,
    seed_defaults,
)
from pipeline.ingest.formats import FORMATS
from pipeline.ingest.probe import probe_source
from pipeline.ingest.run import SourceOutcome, ingest_source, select_sources
from pipeline.store.db import init_store, write_transaction
from pipeline.store.status import SourceStatus
from workers.cli.output import emit, json_option
from workers.cli.runtime import Runtime, friendly_errors, pass_runtime


@click.command()
@pass_runtime
@friendly_errors
def init(rt: Runtime) -> None:
    """Create or upgrade the database schema and add the default sources if there are none.

    Safe to run again at any time: migrations that already ran are skipped. With the default
    SQLite store this is the one command (with `run`) that creates the file: see data_dir.
    """
    prepare_store(rt)


def prepare_store(rt: Runtime) -> None:
    """Migrate the schema and seed the default sources on first use (init and run share it)."""
    rt.creates_store = True
    init_store(rt.engine)
    with write_transaction(rt.sessions) as session:
        added = seed_defaults(session, rt.settings.default_sources)
    click.echo(f"store ready: {rt.store_name}")
    for source in added:
        click.echo(f"added default source {source.name} ({source.kind}) {source.url}")


@click.group()
def sources() -> None:
    """Manage the feeds Paperround ingests."""


@sources.command("add")
@click.argument("name")
@click.argument("url")
@click.option(
    "--kind",
    type=click.Choice(sorted(FORMATS)),
    default=None,
    help="Feed format; detected from the test fetch (or the first ingestion) when omitted.",
)
@click.option(
    "--id-pattern",
    default=None,
    metavar="REGEX",
    help="Where this site's links carry the arXiv id, as a regex with a group named id, "
    "for a site docs/sources.md does not list, e.g. 'example\\.org/p/(?P<id>[^/]+)'.",
)
@click.option(
    "--no-check", is_flag=True, help="Skip the test fetch (e.g. on a machine without internet)."
)
@pass_runtime
@friendly_errors
def sources_add(
    rt: Runtime, name: str, url: str, kind: str | None, id_pattern: str | None, no_check: bool
) -> None:
    """Add source NAME fetched from URL, after one test fetch of URL.

    When the test fetch does not give a feed the source is still added, with a warning: a
    feed that is down now may answer at the next ingestion. Nothing fetched is stored.

    Example: paperround sources add cs-cl https://rss.arxiv.org/rss/cs.CL --kind arxiv-rss
    """
    spec = SourceSpec(name=name, url=url, kind=kind or AUTO, id_pattern=id_pattern)
    with rt.sessions() as session:  # closed uncommitted: a dry run of the add
        add_source(session, spec)  # a bad name, URL or pattern is refused before any fetch
    probe = None
    if not no_check:
        with rt.wiring.fetcher() as fetcher:
            probe = probe_source(fetcher, url, kind)
    with write_transaction(rt.sessions) as session:
        source = add_source(session, spec)
        if probe is not None and probe.ok and probe.kind:
            change_source(session, name, kind=probe.kind)
        shown = f"added source {source.name} ({source.kind}) {source.url}"
    click.echo(shown)
    if probe is None:
        return
    if probe.ok:
        click.echo(f"  test fetch: a {probe.kind} feed with {probe.entries} entries")
    else:
        click.echo(
            f"Warning: the test fetch of {url} gave no feed: {probe.problem}. The source is "
            f"added anyway; fix it with `paperround sources remove {name}` and add it again, "
            f"or check later with `paperround ingest {name}`",
            err=True,
        )


@sources.command("list")
@json_option
@pass_runtime
@friendly_errors
def sources_list(rt: Runtime, as_json: bool) -> None:
    """List sources with the outcome of their last fetch."""
    with rt.sessions() as session:
        rows = list_sources(session)
    data = [
        {
            "name": s.name,
            "kind": s.kind,
            "url": s.url,
            "enabled": s.enabled,
            "interval_minutes": s.interval_minutes,
            "last_status": s.last_status,
            "last_error": s.last_error,
            "last_fetched_at": s.last_fetched_at,
            "last_ok_at": s.last_ok_at,
            "last_counts": s.last_counts,
            "failures": s.failures,
            "next_fetch_at": s.next_fetch_at,
            "options": s.options or {},
        }
        for s in rows
    ]

    def human() -> None:
        if not rows:
            click.echo("no sources; add one with `paperround sources add NAME URL`")
        for s in rows:
            when = (
                s.last_fetched_at.strftime("%Y-%m-%d %H:%M UTC") if s.last_fetched_at else "never"
            )
            status = s.last_status or "not fetched"
            click.echo(f"{s.name:<20} {s.kind:<11} {status:<12} {when:<21} {s.url}")
            every = f"every {s.interval_minutes} min"
            click.echo(f"{'':<20} {every}" + ("" if s.enabled else ", DISABLED (not fetched)"))
            if s.last_error:
                click.echo(f"{'':<20} error: {s.last_error}")
            if s.next_fetch_at is not None:
                again = s.next_fetch_at.strftime("%Y-%m-%d %H:%M UTC")
                click.echo(
                    f"{'':<20} {s.failures} failure(s) in a row; next fetch not before {again}"
                    " (`paperround ingest NAME` fetches it now)"
                )

    emit(data, as_json, human)


@sources.command("remove")
@click.argument("name")
@pass_runtime
@friendly_errors
def sources_remove(rt: Runtime, name: str) -> None:
    """Remove source NAME (papers it brought stay in the store)."""
    with write_transaction(rt.sessions) as session:
        remove_source(session, name)
    click.echo(f"removed source {name}")


@sources.command("enable")
@click.argument("name")
@pass_runtime
@friendly_errors
def sources_enable(rt: Runtime, name: str) -> None:
    """Fetch source NAME again on its schedule (and at once if it was backing off)."""
    with write_transaction(rt.sessions) as session:
        change_source(session, name, enabled=True)
    click.echo(f"enabled source {name}")


@sources.command("disable")
@click.argument("name")
@pass_runtime
@friendly_errors
def sources_disable(rt: Runtime, name: str) -> None:
    """Stop fetching source NAME (its papers stay; `sources enable` undoes it)."""
    with write_transaction(rt.sessions) as session:
        change_source(session, name, enabled=False)
    click.echo(f"disabled source {name}; `paperround sources enable {name}` fetches it again")


@sources.command("set")
@click.argument("name")
@click.option(
    "--interval",
    "minutes",
    type=click.IntRange(1),
    required=True,
    metavar="MINUTES",
    help="Fetch NAME at most once every MINUTES minutes (default for new sources: 60).",
)
@pass_runtime
@friendly_errors
def sources_set(rt: Runtime, name: str, minutes: int) -> None:
    """Change how often source NAME is fetched by the workers."""
    with write_transaction(rt.sessions) as session:
        change_source(session, name, interval_minutes=minutes)
    click.echo(f"source {name} is fetched at most every {minutes} minutes")


def _summary_line(o: SourceOutcome) -> str:
    if o.status == SourceStatus.FAILED:
        return f"{o.name:<20} FAILED     {o.error}"
    if o.status == SourceStatus.NOT_MODIFIED:
        return f"{o.name:<20} unchanged  (not modified since last fetch)"
    skipped = f", {o.skipped} skipped" if o.skipped else ""
    line = f"{o.name:<20} ok         {o.new} new, {o.updated} updated, {o.unchanged} unchanged"
    reasons = "".join(
        f"\n{'':<20} skipped {n}: {why}" for why, n in list(o.skip_reasons.items())[:5]
    )
    return line + skipped + reasons


@click.command()
@click.argument("names", nargs=-1)
@json_option
@click.option("--async", "run_async", is_flag=True, help="Queue it for the workers instead.")
@pass_runtime
@friendly_errors
def ingest(rt: Runtime, names: tuple[str, ...], as_json: bool, run_async: bool) -> None:
    """Fetch and store papers from all enabled sources, or only from NAMES.

    Exits with status 1 when any source failed (the others are still ingested).
    """
    with rt.sessions() as session:
        chosen = select_sources(session, names)
    if run_async:
        from workers.jobs.tasks import ingest_one_source

        for source in chosen:
            ingest_one_source.delay(source.id)
        click.echo(f"queued {len(chosen)} source(s) for the workers; see `paperround status`")
        return
    outcomes: list[SourceOutcome] = []
    with (
        rt.wiring.fetcher() as fetcher,
        click.progressbar(
            chosen,
            label="ingesting",
            file=sys.stderr,
            item_show_func=lambda s: s.name if s is not None else None,
        ) as bar,
    ):
        for source in bar:
            outcomes.append(
                ingest_source(rt.sessions, source, fetcher, catch_up_days=rt.settings.catch_up_days)
            )
    failed = sum(o.status == SourceStatus.FAILED for o in outcomes)

    def human() -> None:
        for outcome in outcomes:
            click.echo(_summary_line(outcome))
        totals = {k: sum(getattr(o, k) for o in outcomes) for k in ("new", "updated", "unchanged")}
        click.echo(
            f"total: {totals['new']} new, {totals['updated']} updated, "
            f"{totals['unchanged']} unchanged, {failed} failed source(s)"
        )

    emit(outcomes, as_json, human)
    if failed:
        raise click.exceptions.Exit(1)
