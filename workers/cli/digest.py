"""`paperround digest plan|preview|send` and `paperround resend`."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import click

from pipeline.delivery.inspect import readers_not_due_yet
from pipeline.delivery.queries import due_rows, edition_exists, editions_with_due_rows
from pipeline.delivery.recovery import release_stale_claims, request_resend
from pipeline.delivery.sending import SendReport, finish_if_done, send_edition
from pipeline.digest.planning import plan_edition
from pipeline.digest.preview import PreviewError, explain_reader, preview_digest
from pipeline.readers.lifecycle import find
from pipeline.store.db import write_transaction
from pipeline.store.status import Cadence
from pipeline.timeutil import utcnow
from workers.cli.mailserver import mail_destination
from workers.cli.output import emit, json_option
from workers.cli.runtime import Runtime, friendly_errors, pass_runtime

DATE = click.DateTime(formats=["%Y-%m-%d"])
CADENCE = click.Choice([c.value for c in Cadence])


@click.group()
def digest() -> None:
    """Plan, preview and send editions of the digest."""


def _day(value: datetime | None) -> date:
    return value.date() if value is not None else utcnow().date()


@digest.command("plan")
@click.option("--date", "day", type=DATE, default=None, help="Slot date (default: today, UTC).")
@click.option("--cadence", type=CADENCE, default="daily")
@json_option
@pass_runtime
@friendly_errors
def digest_plan(rt: Runtime, day: datetime | None, cadence: str, as_json: bool) -> None:
    """Create the edition for a slot and one delivery per reader who gets papers.

    Planning again for the same slot creates nothing new (it only adds readers who became
    eligible since). Readers whose filters match nothing get no (empty) mail.
    """
    s = rt.settings
    with write_transaction(rt.sessions) as session:
        report = plan_edition(
            session,
            cadence=Cadence(cadence),
            day=_day(day),
            pool_size=s.edition_pool_size,
            gravity=s.ranking_gravity,
        )
    # An edition nobody gets is over at once: not "in flight", not in the archive.
    finish_if_done(rt.sessions, report.edition_id, utcnow())

    def human() -> None:
        verb = "planned" if report.created else "extended"
        click.echo(
            f"{verb} edition {report.edition_id} ({report.cadence} {report.slot_date}): "
            f"{report.papers} papers, {report.deliveries} new deliveries in {report.segments} "
            f"segment(s), {report.no_match} reader(s) with no matching papers"
        )

    emit(report, as_json, human)


@digest.command("preview")
@click.option("--for", "email", default=None, help="Show what this reader gets.")
@click.option("--date", "day", type=DATE, default=None)
@click.option("--cadence", type=CADENCE, default="daily")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the digest (required unless --json).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "text", "eml"]),
    default="html",
    show_default=True,
    help="The HTML part, the plain-text part, or the whole message as sent (.eml).",
)
@click.option("--text", is_flag=True, help="Same as --format text.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="With --for: print the reader's papers in order as JSON (timestamps in ISO 8601, "
    "UTC), each with its arxiv_id, "
    "title, abstract, score and reasons (nothing is written).",
)
@pass_runtime
@friendly_errors
def digest_preview(
    rt: Runtime,
    email: str | None,
    day: datetime | None,
    cadence: str,
    out: Path | None,
    fmt: str,
    text: bool,
    as_json: bool,
) -> None:
    """Write a digest to OUT without sending or storing anything.

    The message is made by the code that sends it, for the reader's own papers and links:
    only the Message-ID and Date differ from what the reader is sent. Uses the planned edition
    of the slot, or plans one in a transaction that is rolled back.
    """
    s = rt.settings
    if as_json:
        if email is None:
            raise click.UsageError("--json explains one reader's selection: add --for EMAIL")
        with rt.sessions() as session:
            try:
                picks = explain_reader(
                    session,
                    cadence=Cadence(cadence),
                    day=_day(day),
                    pool_size=s.edition_pool_size,
                    gravity=s.ranking_gravity,
                    email=email,
                )
            except PreviewError as exc:
                raise click.ClickException(str(exc)) from exc
        emit([p.as_json() for p in picks], True, lambda: None)
        return
    if out is None:
        raise click.UsageError("say where to write the preview: --out FILE (or use --json)")
    with rt.sessions() as session:
        try:
            preview = preview_digest(
                session,
                rt.wiring.composer(),
                rt.wiring.site,
                cadence=Cadence(cadence),
                day=_day(day),
                pool_size=s.edition_pool_size,
                gravity=s.ranking_gravity,
                email=email,
            )
        except PreviewError as exc:
            raise click.ClickException(str(exc)) from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    fmt = "text" if text else fmt
    if fmt == "eml":
        out.write_bytes(preview.message)
    else:
        out.write_text(preview.text if fmt == "text" else preview.html, encoding="utf-8")
    note = "" if preview.planned else " (edition not planned yet: a preview of what it would be)"
    click.echo(f"wrote {out}: {preview.subject}{note}")


def run_send(rt: Runtime, edition_ids: list[int], wait: bool) -> SendReport:
    """Send the given editions in this process with a progress bar; returns the totals."""
    wiring = rt.wiring
    policy = wiring.send_policy()
    release_stale_claims(rt.sessions, policy.claim_timeout)
    composer = wiring.composer()
    total = SendReport()
    with mail_destination(rt.settings):
        for edition_id in edition_ids:
            with rt.sessions() as session:
                due = due_rows(session, edition_id)
            with click.progressbar(
                length=due, label=f"edition {edition_id}", file=sys.stderr
            ) as bar:
                report = send_edition(
                    rt.sessions,
                    edition_id,
                    composer,
                    wiring.transports,
                    policy,
                    wait_for_retries=wait,
                    on_settled=lambda _status: bar.update(1),
                )
            total.add(report)
            if report.stopped:
                break
    return total


def _queue_sends(edition_ids: list[int]) -> None:
    from workers.jobs.tasks import queue_edition_batches

    for edition_id in edition_ids:
        queue_edition_batches.delay(edition_id)
    click.echo(
        f"queued edition(s) {', '.join(map(str, edition_ids))} for the workers; "
        "follow with `paperround status`"
    )


def _print_report(report: SendReport) -> None:
    click.echo(
        f"sent {report.sent}, failed {report.failed}, unknown {report.unknown}, "
        f"skipped {report.skipped}, still waiting {report.waiting}"
    )
    for error in report.errors[:10]:
        click.echo(f"error: {error}", err=True)
    if report.stopped:
        click.echo(
            f"stopped: {report.stopped}; the rest wait in the ledger: "
            "run `paperround digest send` again",
            err=True,
        )


def _refuse_early_readers(rt: Runtime, editions: list[int]) -> None:
    """Stop before mailing readers ahead of their local send hour, unless --now said so."""
    with rt.sessions() as session:
        early = readers_not_due_yet(session, editions, utcnow())
    if not early:
        return
    first = early[0]
    when = f"{first.due_at:%Y-%m-%d %H:%M} {first.due_at.tzinfo}"
    who = "reader's" if len(early) == 1 else "readers'"
    raise click.ClickException(
        f"{len(early):,} {who} local send hour has not come yet (first: {first.email} at "
        f"{when}); nothing sent. `paperround digest send --now` sends to them now"
    )


@digest.command("send")
@click.option("--edition", "edition_id", type=int, default=None, help="Only this edition.")
@click.option("--wait", is_flag=True, help="Keep going until retries are settled too.")
@click.option("--async", "run_async", is_flag=True, help="Queue it for the workers instead.")
@click.option(
    "--now",
    "send_now",
    is_flag=True,
    help="Also send to readers whose local send hour for the edition has not come yet.",
)
@pass_runtime
@friendly_errors
def digest_send(
    rt: Runtime, edition_id: int | None, wait: bool, run_async: bool, send_now: bool
) -> None:
    """Send due deliveries (all editions, or one), each reader at most once.

    A reader's digest is due at their send hour in their time zone on the edition's day. When
    some readers' hour has not come yet (e.g. after `digest plan`, which plans every reader),
    nothing is sent and the command says so: pass --now to send to them anyway.
    """
    if edition_id is not None:
        with rt.sessions() as session:
            if not edition_exists(session, edition_id):
                raise click.ClickException(
                    f"edition {edition_id} does not exist; see `paperround editions list`"
                )
        editions = [edition_id]
    else:
        with rt.sessions() as session:
            editions = editions_with_due_rows(session)
    if not editions:
        click.echo("nothing to send; plan an edition with `paperround digest plan`")
        return
    if not send_now:
        _refuse_early_readers(rt, editions)
    if run_async:
        _queue_sends(editions)
        return
    report = run_send(rt, editions, wait)
    _print_report(report)
    if report.stopped or report.failed or report.errors:
        raise click.exceptions.Exit(1)


@click.command()
@click.argument("edition_id", type=int)
@click.option("--to", "email", default=None, help="Resend to this reader.")
@click.option("--failed", is_flag=True, help="Resend failed and unknown deliveries.")
@click.option("--all", "everyone", is_flag=True, help="Resend to every reader of the edition.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--async", "run_async", is_flag=True, help="Let the workers send it.")
@pass_runtime
@friendly_errors
def resend(
    rt: Runtime,
    edition_id: int,
    email: str | None,
    failed: bool,
    everyone: bool,
    yes: bool,
    run_async: bool,
) -> None:
    """Deliberately send an edition again, recording a new attempt in the ledger."""
    if sum([email is not None, failed, everyone]) != 1:
        raise click.UsageError("choose exactly one of --to EMAIL, --failed, --all")
    with write_transaction(rt.sessions) as session:
        if not edition_exists(session, edition_id):
            raise click.ClickException(
                f"edition {edition_id} does not exist; see `paperround editions list`"
            )
        subscriber_id = None
        if email is not None:
            reader = find(session, email)
            if reader is None:
                raise click.ClickException(f"no reader {email}")
            subscriber_id = reader.id
        target = f"to {email}" if email else ("the failed deliveries" if failed else "EVERY reader")
        if not yes and not click.confirm(f"Resend edition {edition_id} {target}?"):
            raise click.exceptions.Exit(1)
        count = request_resend(
            session, edition_id, subscriber_id=subscriber_id, failed=failed, everyone=everyone
        )
    if count == 0:
        raise click.ClickException(
            "no matching deliveries to resend (in-flight rows are left alone)"
        )
    click.echo(f"{count} deliveries queued for resend")
    if run_async:
        _queue_sends([edition_id])
        return
    report = run_send(rt, [edition_id], wait=False)
    _print_report(report)
    if report.stopped or report.failed:
        raise click.exceptions.Exit(1)
