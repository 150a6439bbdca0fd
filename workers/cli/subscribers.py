"""`paperround subscribers ...`: the admin side of the subscription service."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from pipeline.readers.addresses import AddressError, normalize_address
from pipeline.readers.csv_io import export_rows, import_csv
from pipeline.readers.feedback import reader_data
from pipeline.readers.interests import change_interests
from pipeline.readers.lifecycle import (
    PAUSED,
    Consent,
    SubscribeState,
    SubscriptionError,
    confirm_again,
    find,
    list_subscribers,
    remove,
    subscribe,
    update_subscriber,
)
from pipeline.readers.preferences import WEEKDAYS, PreferenceError
from pipeline.readers.suppressions import find_suppression
from pipeline.store.db import write_transaction
from pipeline.store.models import Subscriber
from pipeline.store.status import Cadence, ConsentChannel, SubscriberStatus
from workers.cli.mailserver import mail_destination
from workers.cli.output import emit, json_option
from workers.cli.runtime import Runtime, friendly_errors, pass_runtime

CADENCE = click.Choice([c.value for c in Cadence])
WEEKDAY = click.Choice(list(WEEKDAYS), case_sensitive=False)
CATEGORY_HELP = (
    "arXiv category (cs.CL) or archive (cs) to follow; repeat for more. "
    "Checked against the arXiv taxonomy."
)
KEYWORD_HELP = "Keyword or phrase to follow in titles and abstracts; repeat for more."
CSV_HELP = """Import readers from CSV_FILE: a header row with an `email` column, and any of
these optional columns (an export of `subscribers export` has them all):

\b
  cadence            daily or weekly
  categories         arXiv categories, separated by ";" (or spaces), e.g. cs.CL;cs.LG
  keywords           keywords or phrases, separated by ";" (or ","), e.g. diffusion;graph neural
  papers_per_digest  1 to the max_papers_per_digest setting
  send_hour          0-23, in the reader's time zone
  timezone           IANA name, e.g. Europe/Berlin
  weekly_day         monday..sunday (or 0-6), for weekly readers
  paused             true or false
  status             as exported: a reader who left stays left, never made active
  consent_at, consent_channel   the consent record an export carries

Rows are checked like the sign-up form (address, categories against the arXiv taxonomy, time
zone); bad rows are reported by line number and skipped, good rows are kept. Without
--confirmed every new reader is pending and is mailed a confirmation link now (a reader who
had unsubscribed is never mailed: they come back on their own).
"""


@click.group()
def subscribers() -> None:
    """Manage readers (the web pages are the readers' own door)."""


def _send_confirmations(rt: Runtime, ids: list[int]) -> int:
    """Mail confirm links now, in this process, with a progress bar; returns how many left."""
    if not ids:
        return 0
    with (
        mail_destination(rt.settings),
        click.progressbar(length=len(ids), label="confirmation mails", file=sys.stderr) as bar,
    ):
        outcomes = rt.wiring.confirmations.send_many(ids, on_sent=lambda _o: bar.update(1))
    sent = sum(outcome.status == "sent" for outcome in outcomes)
    failed = [outcome for outcome in outcomes if outcome.status != "sent"]
    if failed:
        click.echo(
            f"{len(failed)} confirmation mail(s) not sent, the first because: {failed[0].detail}",
            err=True,
        )
    return sent


F = TypeVar("F", bound=Callable[..., Any])


def interest_options(func: F) -> F:
    """What a reader likes beyond categories and keywords (docs/relevance.md); each list
    option repeats, and on `update` replaces the reader's list ('' clears it)."""
    options = [
        click.option(
            "--seed",
            "seeds",
            multiple=True,
            metavar="ARXIV_ID",
            help="A paper they like (an arXiv id or URL); repeat for more.",
        ),
        click.option(
            "--follow-author",
            "follow_authors",
            multiple=True,
            metavar="NAME",
            help="An author whose papers always come first; repeat for more.",
        ),
        click.option(
            "--mute-author",
            "mute_authors",
            multiple=True,
            metavar="NAME",
            help="An author never to show; repeat for more.",
        ),
        click.option(
            "--exclude-keyword",
            "exclude_keywords",
            multiple=True,
            metavar="WORD",
            help="A keyword that rules a paper out; repeat for more.",
        ),
        click.option(
            "--relevance-weight",
            type=click.IntRange(0, 100),
            default=None,
            metavar="0-100",
            help="How much their interests count against trending "
            "(default: 75 with ratings or seeds, else 50).",
        ),
        click.option(
            "--min-score",
            type=click.IntRange(0, 100),
            default=None,
            metavar="0-100",
            help="Leave out papers scoring below this.",
        ),
        click.option(
            "--skip-empty/--no-skip-empty",
            default=None,
            help="No email when nothing clears the minimum (default: skip).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _interest_changes(
    seeds: tuple[str, ...],
    follow_authors: tuple[str, ...],
    mute_authors: tuple[str, ...],
    exclude_keywords: tuple[str, ...],
    relevance_weight: int | None,
    min_score: int | None,
    skip_empty: bool | None,
) -> dict[str, object]:
    changes: dict[str, object] = {}
    for name, values in (
        ("seeds", seeds),
        ("follow_authors", follow_authors),
        ("mute_authors", mute_authors),
        ("exclude_keywords", exclude_keywords),
    ):
        if values:
            changes[name] = tuple(v for v in values if v.strip())
    if relevance_weight is not None:
        changes["relevance_weight"] = relevance_weight / 100
    if min_score is not None:
        changes["min_score"] = min_score / 100
    if skip_empty is not None:
        changes["skip_empty"] = skip_empty
    return changes


@subscribers.command("add")
@click.argument("email")
@click.option("--confirmed", is_flag=True, help="Skip double opt-in (you hold their consent).")
@click.option("--category", "categories", multiple=True, help=CATEGORY_HELP)
@click.option("--keyword", "keywords", multiple=True, help=KEYWORD_HELP)
@click.option("--cadence", type=CADENCE, default="daily", show_default=True)
@click.option("--papers", type=int, default=None, help="Papers per digest (default: setting).")
@click.option("--send-hour", type=click.IntRange(0, 23), default=8, show_default=True)
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone.")
@interest_options
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
    seeds: tuple[str, ...],
    follow_authors: tuple[str, ...],
    mute_authors: tuple[str, ...],
    exclude_keywords: tuple[str, ...],
    relevance_weight: int | None,
    min_score: int | None,
    skip_empty: bool | None,
) -> None:
    """Add reader EMAIL: pending, and mailed a confirmation link now (unless --confirmed).

    Example: paperround subscribers add ann@example.org --category cs.CL --keyword diffusion
    """
    wanted = _interest_changes(
        seeds,
        follow_authors,
        mute_authors,
        exclude_keywords,
        relevance_weight,
        min_score,
        skip_empty,
    )
    prefs = rt.wiring.default_preferences().with_changes(
        categories=categories,
        keywords=keywords,
        cadence=cadence,
        send_hour=send_hour,
        timezone=timezone,
        papers_per_digest=rt.settings.default_papers_per_digest if papers is None else papers,
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
            reader_id = outcome.subscriber.id if outcome.subscriber else None
            if reader_id is not None and outcome.state != SubscribeState.ALREADY_ACTIVE:
                change_interests(session, reader_id, wanted)
    except (AddressError, PreferenceError, SubscriptionError) as exc:
        raise click.ClickException(f"{email}: {exc}") from exc
    if outcome.state == SubscribeState.SUPPRESSED:
        raise click.ClickException(
            f"{email} is suppressed ({why_suppressed(rt, email)}); not added. Lift it with "
            f"`paperround suppressions remove {email}` if that was a mistake"
        )
    if outcome.state == SubscribeState.ALREADY_ACTIVE:
        click.echo(
            f"{shown} is already an active reader; change them with "
            f"`paperround subscribers update {shown}`"
        )
        return
    click.echo(f"{shown}: {state}")
    if outcome.state == SubscribeState.RESUBSCRIBING:
        click.echo(
            "  they had left: pending again, not mailed; only their own confirmation makes "
            f"them active (`paperround subscribers confirm-again {shown}` if they asked you)"
        )
        return
    if outcome.send_confirmation and reader_id is not None:
        if _send_confirmations(rt, [reader_id]):
            click.echo(f"  confirmation link mailed to {shown}")
        else:
            raise click.ClickException(
                f"{shown} was added but the confirmation mail was not sent; "
                f"`paperround subscribers confirm-again {shown}` tries again"
            )
    elif state == SubscriberStatus.PENDING:
        click.echo(
            "  a confirmation link went out less than 10 minutes ago; "
            f"`paperround subscribers confirm-again {shown}` sends another"
        )


@subscribers.command("confirm-again")
@click.argument("email")
@pass_runtime
@friendly_errors
def subscribers_confirm_again(rt: Runtime, email: str) -> None:
    """Mail pending reader EMAIL a new confirmation link (the old one may have expired)."""
    with write_transaction(rt.sessions) as session:
        reader = confirm_again(session, email)
        reader_id, shown = reader.id, reader.email
    if not _send_confirmations(rt, [reader_id]):
        raise click.ClickException(f"the confirmation mail to {shown} was not sent; try again")
    click.echo(f"confirmation link mailed to {shown}")


@subscribers.command("update")
@click.argument("email")
@click.option(
    "--category",
    "categories",
    multiple=True,
    help=CATEGORY_HELP + " Replaces the reader's list; --category '' follows everything.",
)
@click.option(
    "--keyword",
    "keywords",
    multiple=True,
    help=KEYWORD_HELP + " Replaces the reader's list; --keyword '' clears it.",
)
@click.option("--cadence", type=CADENCE, default=None)
@click.option("--papers", type=int, default=None, help="Papers per digest.")
@click.option("--send-hour", type=click.IntRange(0, 23), default=None)
@click.option("--timezone", default=None, help="IANA time zone, e.g. Europe/Berlin.")
@click.option("--weekly-day", type=WEEKDAY, default=None, help="Weekday of a weekly digest.")
@click.option("--pause", "pause", flag_value="pause", default=None, help="Stop their digest.")
@click.option("--resume", "pause", flag_value="resume", help="Start their digest again.")
@interest_options
@pass_runtime
@friendly_errors
def subscribers_update(
    rt: Runtime,
    email: str,
    categories: tuple[str, ...],
    keywords: tuple[str, ...],
    cadence: str | None,
    papers: int | None,
    send_hour: int | None,
    timezone: str | None,
    weekly_day: str | None,
    pause: str | None,
    seeds: tuple[str, ...],
    follow_authors: tuple[str, ...],
    mute_authors: tuple[str, ...],
    exclude_keywords: tuple[str, ...],
    relevance_weight: int | None,
    min_score: int | None,
    skip_empty: bool | None,
) -> None:
    """Change what reader EMAIL gets, or pause and resume their digest.

    Only the options given change. It changes no status: a reader who left stays left.
    Example: paperround subscribers update ann@example.org --category cs.LG --pause
    """
    changes: dict[str, object] = {}
    if categories:
        changes["categories"] = categories
    if keywords:
        changes["keywords"] = keywords
    for name, value in (
        ("cadence", cadence),
        ("papers_per_digest", papers),
        ("send_hour", send_hour),
        ("timezone", timezone),
    ):
        if value is not None:
            changes[name] = value
    if weekly_day is not None:
        changes["weekly_day"] = WEEKDAYS.index(weekly_day.lower())
    if pause is not None:
        changes["paused"] = pause == "pause"
    wanted = _interest_changes(
        seeds,
        follow_authors,
        mute_authors,
        exclude_keywords,
        relevance_weight,
        min_score,
        skip_empty,
    )
    if not changes and not wanted:
        raise click.UsageError("nothing to change; see `paperround subscribers update --help`")
    try:
        with write_transaction(rt.sessions) as session:
            if changes:
                reader = update_subscriber(
                    session, email, changes, max_papers=rt.settings.max_papers_per_digest
                )
            else:
                found = find(session, email)
                if found is None:
                    raise click.ClickException(
                        f"no reader {email}; see `paperround subscribers list`"
                    )
                reader = found
            change_interests(session, reader.id, wanted)
            line = f"updated {reader.email}: {_describe(reader)}"
    except PreferenceError as exc:
        raise click.ClickException(f"{email}: {exc}") from exc
    click.echo(line)


def _describe(s: Subscriber) -> str:
    follows = " ".join(s.categories + [f'"{k}"' for k in s.keywords]) or "everything"
    state = f"{s.status} (paused)" if s.paused else str(s.status)
    return f"{state}, {s.cadence} at {s.send_hour:02d}:00 {s.timezone}, {follows}"


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
    type=click.Choice([*(s.value for s in SubscriberStatus), PAUSED], case_sensitive=False),
    default=None,
    help="Only readers with this status ('paused': active readers whose digest is paused).",
)
@json_option
@pass_runtime
@friendly_errors
def subscribers_list(rt: Runtime, status: str | None, as_json: bool) -> None:
    """List readers with their status and preferences; paused readers show as paused."""
    with rt.sessions() as session:
        rows = list_subscribers(session, status.lower() if status else None)
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
            shown = f"{s.status} (paused)" if s.paused else str(s.status)
            click.echo(f"{s.email:<40} {shown:<21} {s.cadence:<6} {follows}")

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


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


@subscribers.command("import", help=CSV_HELP)
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--confirmed", is_flag=True, help="Import as active (you hold their consent).")
@pass_runtime
@friendly_errors
def subscribers_import(rt: Runtime, csv_file: Path, confirmed: bool) -> None:
    rows = _count_lines(csv_file)
    with csv_file.open(newline="", encoding="utf-8-sig") as handle:
        try:
            with (
                click.progressbar(
                    length=max(rows - 1, 1), label="importing", file=sys.stderr
                ) as bar,
                write_transaction(rt.sessions) as session,
            ):
                report = import_csv(
                    session,
                    handle,
                    rt.wiring.default_preferences(),
                    max_papers=rt.settings.max_papers_per_digest,
                    confirmed=confirmed,
                    on_row=bar.update,
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
    mailed = _send_confirmations(rt, report.to_confirm)
    if report.to_confirm:
        click.echo(f"confirmation links mailed: {mailed} of {len(report.to_confirm)}")
    if report.errors or mailed < len(report.to_confirm):
        raise click.exceptions.Exit(1)


@subscribers.command("export")
@pass_runtime
@friendly_errors
def subscribers_export(rt: Runtime) -> None:
    """Write all readers as CSV to standard output: their subscription (readable by
    `subscribers import`) and their own data: seeds, follows, mutes, exclusions, weights and
    ratings (liked and disliked papers).

    Example: paperround subscribers export > readers.csv
    """
    with rt.sessions() as session:
        try:
            data = functools.partial(reader_data, session)
            for chunk in export_rows(list_subscribers(session), data):
                sys.stdout.write(chunk)
            sys.stdout.flush()
        except BrokenPipeError:
            # `export | head`: the reader of the pipe has what it wanted. Point stdout at
            # /dev/null so the interpreter's own flush at exit has nowhere to fail.
            _quiet_stdout()


def _quiet_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (click's test runner)
        pass
    finally:
        os.close(devnull)
