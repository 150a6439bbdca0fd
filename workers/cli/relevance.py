"""`paperround feedback` and `paperround relevance ...`: ratings and the relevance models."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from pipeline.readers.feedback import CLEAR, DOWN, UP, paper_by_reference, rate, ratings_of
from pipeline.readers.lifecycle import find
from pipeline.relevance.evaluate import RANKERS, evaluate
from pipeline.relevance.training import stale_readers, train_due
from pipeline.store.db import write_transaction
from pipeline.store.status import RatingVia
from workers.cli.output import emit, json_option
from workers.cli.runtime import Runtime, friendly_errors, pass_runtime


@click.command()
@click.argument("email")
@click.argument("paper")
@click.option("--up", "value", flag_value=UP, help="More like this.")
@click.option("--down", "value", flag_value=DOWN, help="Less like this.")
@click.option("--clear", "value", flag_value=CLEAR, help="Remove the rating.")
@json_option
@pass_runtime
@friendly_errors
def feedback(rt: Runtime, email: str, paper: str, value: int | None, as_json: bool) -> None:
    """Rate PAPER (an arXiv id or URL, or a store key) for reader EMAIL.

    Example: paperround feedback ann@example.org 2401.01234 --up
    """
    if value is None:
        raise click.UsageError("say --up, --down or --clear")
    with write_transaction(rt.sessions) as session:
        reader = find(session, email)
        if reader is None:
            raise click.ClickException(f"no reader {email}; see `paperround subscribers list`")
        found = paper_by_reference(session, paper)
        if found is None:
            raise click.ClickException(
                f"no paper {paper!r} in the store; see `paperround papers list`"
            )
        rate(session, reader, found.id, value, RatingVia.CLI)
        title = found.title
        ratings = [r.as_json() for r in ratings_of(session, reader.id)]
    word = {UP: "more like", DOWN: "less like", CLEAR: "no rating for"}[value]
    emit(
        {"email": email, "paper": paper, "rating": value, "ratings": ratings},
        as_json,
        lambda: click.echo(f"{email}: {word} {title!r} ({len(ratings)} rating(s) in all)"),
    )


@click.group()
def relevance() -> None:
    """Personal relevance: train reader models, measure them."""


@relevance.command("train")
@click.option("--refit", is_flag=True, help="Fit a new vocabulary first (else nightly).")
@json_option
@pass_runtime
@friendly_errors
def relevance_train(rt: Runtime, refit: bool, as_json: bool) -> None:
    """Train every reader whose ratings or seeds changed (what beat runs nightly)."""
    with rt.sessions() as session:
        waiting = len(stale_readers(session))
    with click.progressbar(length=max(1, waiting), label="training", file=sys.stderr) as bar:
        report = train_due(rt.sessions, refit=refit or None, on_batch=bar.update)
    emit(
        report,
        as_json,
        lambda: click.echo(
            f"trained {report.trained} reader(s), {report.models} with a model"
            + (f"; new vocabulary v{report.refitted}" if report.refitted else "")
        ),
    )


@relevance.command("evaluate")
@click.option(
    "--split",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"]),
    default=None,
    help="Train on ratings before this time (UTC), test on the later ones "
    "(default: the 80th percentile of rating times).",
)
@json_option
@pass_runtime
@friendly_errors
def relevance_evaluate(rt: Runtime, split: datetime | None, as_json: bool) -> None:
    """Replay the store's ratings: nDCG@10 and AUC of the model and two baselines."""
    with rt.sessions() as session:
        result = evaluate(session, split.replace(tzinfo=UTC) if split else None)

    def human() -> None:
        if not result.readers:
            click.echo(
                "no reader has a liked paper both before and after the split; "
                "collect more ratings (or pass --split)"
            )
            return
        click.echo(
            f"{result.readers} reader(s); {result.ratings_train} ratings to train, "
            f"{result.ratings_test} to test (split {result.split_at:%Y-%m-%d %H:%M} UTC)"
        )
        click.echo(f"{'ranker':<10} {'nDCG@10':>8} {'AUC':>6}")
        for name in RANKERS:
            click.echo(f"{name:<10} {result.ndcg[name]:>8.3f} {result.auc[name]:>6.3f}")

    emit(result, as_json, human)
