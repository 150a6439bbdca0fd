"""`paperround run`: the whole service under one supervisor."""

from __future__ import annotations

import sys

import click

from workers.cli.runtime import Runtime, friendly_errors, pass_runtime
from workers.cli.sources import prepare_store


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Web address to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--concurrency",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes.",
)
@pass_runtime
@friendly_errors
def run(rt: Runtime, host: str, port: int, concurrency: int) -> None:
    """Run the whole service: web pages, a Celery worker, beat, and (on embedded defaults)
    the capture SMTP server. Ctrl-C stops everything."""
    from workers.supervisor import Supervisor, children

    s = rt.settings
    prepare_store(rt)
    kids = children(s, host, port, concurrency)
    click.echo(f"Paperround is starting: http://{host}:{port}/")
    click.echo(f"  store:  {rt.engine.url.render_as_string(hide_password=True)}")
    click.echo(
        f"  broker: {s.broker_url or 'filesystem queue under ' + str(s.data_dir / 'broker')}"
    )
    if s.smtp_is_capture:
        click.echo(
            f"  mail:   captured into the Maildir {s.maildir.resolve()} "
            "(open new/ with any mail client)"
        )
    else:
        click.echo("  mail:   sent through the configured SMTP relay")
    click.echo("  stop:   Ctrl-C")
    supervisor = Supervisor(kids)
    supervisor.start()
    code = supervisor.wait()
    click.echo("Paperround stopped.", err=True)
    sys.exit(code)
