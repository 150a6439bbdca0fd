"""The `paperround` command line: the admin's door into every pipeline function."""

from __future__ import annotations

import logging

import click

from workers.cli.digest import digest, resend
from workers.cli.editions import editions
from workers.cli.papers import papers
from workers.cli.relevance import feedback, relevance
from workers.cli.run import run
from workers.cli.runtime import Runtime
from workers.cli.sources import ingest, init, sources
from workers.cli.status import status
from workers.cli.subscribers import subscribers
from workers.cli.suppressions import suppressions
from workers.cli.web import web


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.version_option(package_name="paperround")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """Paperround: trending papers in your inbox.

    Settings come from config/defaults.toml and PAPERROUND_* environment variables
    (e.g. PAPERROUND_DATABASE_URL).
    """
    level = {0: logging.ERROR, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = Runtime()
    ctx.call_on_close(ctx.obj.close)


cli.add_command(init)
cli.add_command(sources)
cli.add_command(ingest)
cli.add_command(papers)
cli.add_command(subscribers)
cli.add_command(suppressions)
cli.add_command(digest)
cli.add_command(resend)
cli.add_command(web)
cli.add_command(run)
cli.add_command(status)
cli.add_command(editions)
cli.add_command(feedback)
cli.add_command(relevance)


def main() -> None:
    cli(prog_name="paperround")
