"""`paperround status`: sources, queues, editions in flight, deliveries, suppressions."""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from pipeline.delivery.queries import ledger_status
from pipeline.ingest.catalog import list_sources
from workers.cli.output import emit, json_option
from workers.cli.runtime import Runtime, friendly_errors, pass_runtime
from workers.jobs.queues import queue_depths


def counts_line(counts: dict[str, int], empty: str) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or empty


def plural(count: int, noun: str) -> str:
    """'1 paper', '2 papers' (every noun here takes an s)."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


@click.command()
@json_option
@pass_runtime
@friendly_errors
def status(rt: Runtime, as_json: bool) -> None:
    """Sources and their last fetch, queue depths, editions in flight, deliveries, suppressions."""
    with rt.sessions() as session:
        sources = list_sources(session)
        ledger = ledger_status(session)
    # An edition planned for nobody (no reader's filters matched) has nothing to send: it is
    # not in flight, whatever its status says.
    ledger = dataclasses.replace(ledger, in_flight=[e for e in ledger.in_flight if e.deliveries])
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
        **ledger.as_json(),
    }

    def human() -> None:
        click.echo("sources:")
        for src in sources:
            when = src.last_fetched_at
            shown = when.strftime("%Y-%m-%d %H:%M") if when else "never"
            click.echo(
                f"  {src.name:<20} {src.last_status or 'not fetched':<13} {shown}"
                + (f"  {src.last_error}" if src.last_error else "")
            )
        click.echo("queues: " + ", ".join(f"{q} {n}" for q, n in queues.items()))
        click.echo(f"editions in flight: {len(ledger.in_flight)}")
        for e in ledger.in_flight:
            counts = counts_line(e.deliveries, "no deliveries")
            click.echo(f"  #{e.id} {e.cadence} {e.slot_date} ({e.status}): {counts}")
            if e.status_reason:
                click.echo(f"      {e.status}: {e.status_reason}")
                if e.status == "paused":
                    click.echo(f"      fix the cause, then `paperround editions resume {e.id}`")
        click.echo("deliveries: " + counts_line(ledger.deliveries, "none"))
        click.echo("suppressions: " + counts_line(ledger.suppressions, "none"))

    emit(data, as_json, human)
