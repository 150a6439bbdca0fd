"""`paperround subscribers ...`: the admin side of the subscription service."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pipeline.readers.addresses import AddressError, normalize_address
from pipeline.readers.csv_io import export_rows, import_csv
from pipeline.readers.lifecycle import (
    Consent,
    SubscribeState,
    SubscriptionError,
    list_subscribers,
    remove,
    subscribe,
)
from pipeline.readers.preferences import PreferenceError
from pipeline.readers.suppressions import find_suppression
from pipeline.store.db import write_transaction
from pipeline.store.status import Cadence, ConsentChannel, SubscriberStatus
from workers.cli.output import emit, json_option
from workers.cli.runtime import Runtime, friendly_errors, pass_runtime


@click.group()
def subscribers() -> None:
    """Manage readers (the web pages are the readers' own door)."""


@subscribers.command("add")
@click.argument("email")
@click.option("--confirmed", is_flag=True, help="Skip double opt-in (you have their consent).")
@click.option("--category", "categories", multiple=True, help="arXiv category to follow.")
@click.option("--keyword", "keywords", multiple=True, help="Keyword to follow.")
@click.option("--cadence", type=click.Choice([c.value for c in Cadence]), default="daily")
@click.option("--papers", type=int, default=None, help="Papers per digest.")
@click.option("--send-hour", type=click.IntRange(0, 23), default=8)
@click.option("--timezone", default="UTC", help="IANA time zone, e.g. Europe/Berlin.")
@pass_runtime
@friendly_errors
def subscribers_add(
    rt: Runtime,
    email: str,
    confirmed: bool,
    categories: tuple[str, ...],
    keywords: tuple[str, ...],
    cadence: str,
    papers: int | None,
    send_hour: int,
    timezone: str,
) -> None:
    """Add reader EMAIL (pending until they confirm, unless --confirmed)."""
    prefs = rt.wiring.default_preferences().with_changes(
        categories=categories,
        keywords=keywords,
        cadence=cadence,
        send_hour=send_hour,
        timezone=timezone,
        papers_per_digest=papers or rt.settings.default_papers_per_digest,
    )
    try:
        with write_transaction(rt.sessions) as session:
            outcome = subscribe(
                session,
                email,
                prefs,
                Consent(ConsentChannel.CLI),
                max_papers=rt.settings.max_papers_per_digest,
                confirmed=confirmed,
            )
            state = outcome.subscriber.status if outcome.subscriber else "suppressed"
            shown = outcome.subscriber.email if outcome.subscriber else email
    except (AddressError, PreferenceError, SubscriptionError) as exc:
        raise click.ClickException(f"{email}: {exc}") from exc
    if outcome.state == SubscribeState.SUPPRESSED:
        raise click.ClickException(
            f"{email} is suppressed ({why_suppressed(rt, email)}); not added. Lift it with "
            f"`paperround suppressions remove {email}` if that was a mistake"
        )
    if outcome.state == SubscribeState.ALREADY_ACTIVE:
        click.echo(f"{shown} is already an active reader (change preferences via their link)")
        return
    click.echo(f"{shown}: {state}")
    if confirmed and outcome.state == SubscribeState.RESUBSCRIBING:
        click.echo("  (they had left: only their own confirmation makes them active again)")
    if outcome.send_confirmation:
        click.echo("  (pending: they get a confirmation link when the web service sends one)")


def why_suppressed(rt: Runtime, email: str) -> str:
    with rt.sessions() as session:
        found = find_suppression(session, normalize_address(email).key)
    if found is None:
        return "suppressed"
    detail = f": {found.detail}" if found.detail else ""
    return f"{found.reason} since {found.created_at:%Y-%m-%d}{detail}"


@subscribers.command("list")
@click.option(
    "--status",
    type=click.Choice([s.value for s in SubscriberStatus]),
    default=None,
    help="Only readers with this status.",
)
@json_option
@pass_runtime
@friendly_errors
def subscribers_list(rt: Runtime, status: str | None, as_json: bool) -> None:
    """List readers with their status and preferences."""
    with rt.sessions() as session:
        rows = list_subscribers(session, SubscriberStatus(status) if status else None)
    data = [
        {
            "email": s.email,
            "status": s.status,
            "cadence": s.cadence,
            "categories": s.categories,
            "keywords": s.keywords,
            "papers_per_digest": s.papers_per_digest,
            "send_hour": s.send_hour,
            "timezone": s.timezone,
            "paused": s.paused,
            "consent_at": s.consent_at,
            "consent_channel": s.consent_channel,
        }
        for s in rows
    ]

    def human() -> None:
        if not rows:
            click.echo("no readers yet; add one with `paperround subscribers add EMAIL`")
        for s in rows:
            follows = " ".join(s.categories + [f'"{k}"' for k in s.keywords]) or "everything"
            click.echo(f"{s.email:<40} {s.status:<12} {s.cadence:<6} {follows}")

    emit(data, as_json, human)


@subscribers.command("remove")
@click.argument("email")
@pass_runtime
@friendly_errors
def subscribers_remove(rt: Runtime, email: str) -> None:
    """Delete reader EMAIL and their delivery history (erasure on request)."""
    try:
        with write_transaction(rt.sessions) as session:
            remove(session, email)
    except SubscriptionError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"removed {email}")


@subscribers.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--confirmed", is_flag=True, help="Import as active (you hold their consent).")
@pass_runtime
@friendly_errors
def subscribers_import(rt: Runtime, csv_file: Path, confirmed: bool) -> None:
    """Import readers from CSV_FILE (header row with an `email` column; optional columns:
    cadence, categories, keywords, papers_per_digest, send_hour, timezone).

    Bad rows are reported by line number and skipped; good rows are kept.
    """
    with csv_file.open(newline="", encoding="utf-8-sig") as handle:
        try:
            with write_transaction(rt.sessions) as session:
                report = import_csv(
                    session,
                    handle,
                    rt.wiring.default_preferences(),
                    max_papers=rt.settings.max_papers_per_digest,
                    confirmed=confirmed,
                )
        except SubscriptionError as exc:
            raise click.ClickException(f"{csv_file}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise click.ClickException(f"{csv_file}: not UTF-8 text ({exc.reason})") from exc
    for line, reason in report.errors:
        click.echo(f"{csv_file}:{line}: {reason}", err=True)
    click.echo(
        f"imported: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.errors)} rejected"
    )
    if report.errors:
        raise click.exceptions.Exit(1)


@subscribers.command("export")
@pass_runtime
@friendly_errors
def subscribers_export(rt: Runtime) -> None:
    """Write all readers as CSV to standard output (readable by `subscribers import`)."""
    with rt.sessions() as session:
        for chunk in export_rows(list_subscribers(session)):
            sys.stdout.write(chunk)
