"""`paperround suppressions list|add|remove`: addresses we must not mail, managed without SQL."""

from __future__ import annotations

import click

from pipeline.readers.addresses import normalize_address
from pipeline.readers.suppressions import lift, list_suppressions, suppress
from pipeline.store.db import write_transaction
from pipeline.store.status import SuppressionReason
from workers.cli.output import emit, json_option
from workers.cli.runtime import Runtime, friendly_errors, pass_runtime


@click.group()
def suppressions() -> None:
    """Addresses that get no mail (bounced, complained, erased, or added by an admin).

    Every change is recorded with who made it and why.
    """


@suppressions.command("list")
@json_option
@pass_runtime
@friendly_errors
def suppressions_list(rt: Runtime, as_json: bool) -> None:
    """Every suppressed address with its reason; erased readers show only as a hash."""
    with rt.sessions() as session:
        rows = list_suppressions(session)

    def human() -> None:
        if not rows:
            click.echo("no suppressed addresses")
        for row in rows:
            shown = row.email or f"(erased) {row.key[:23]}..."
            detail = f"  {row.detail}" if row.detail else ""
            click.echo(f"{shown:<40} {row.reason:<10} {row.created_at:%Y-%m-%d}{detail}")

    emit(rows, as_json, human)


@suppressions.command("add")
@click.argument("email")
@click.option("--reason", required=True, help="Why this address gets no mail (kept with it).")
@pass_runtime
@friendly_errors
def suppressions_add(rt: Runtime, email: str, reason: str) -> None:
    """Stop all mail to EMAIL (it stays a reader; `suppressions remove` undoes it)."""
    key = normalize_address(email).key
    with write_transaction(rt.sessions) as session:
        added = suppress(session, key, SuppressionReason.ADMIN, reason, actor="cli")
    click.echo(f"suppressed {key}" if added else f"{key} was already suppressed")


@suppressions.command("remove")
@click.argument("email")
@pass_runtime
@friendly_errors
def suppressions_remove(rt: Runtime, email: str) -> None:
    """Lift the suppression of EMAIL. It re-activates nobody: a reader who bounced or
    complained gets mail again only after subscribing again and confirming."""
    key = normalize_address(email).key
    with write_transaction(rt.sessions) as session:
        lifted = lift(session, key, actor="cli")
    if not lifted:
        raise click.ClickException(f"{key} is not suppressed; see `paperround suppressions list`")
    click.echo(f"lifted the suppression of {key} (recorded)")
