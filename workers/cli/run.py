"""`paperround run`: the whole service under one supervisor."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
import httpx

from pipeline.settings import Settings, is_configured, shown_value
from workers.cli.runtime import Runtime, friendly_errors, pass_runtime
from workers.cli.sources import prepare_store

READY_TIMEOUT = 90.0  # seconds for the web app to answer after the children started
ANY_ADDRESS = ("0.0.0.0", "::", "")  # noqa: S104 (compared with --host, never bound here)


def public_base_url(settings: Settings, host: str, port: int) -> str:
    """Where links in mail point: base_url when it was configured, else the address `run`
    serves on (so `--port 8001` does not send readers to port 8000)."""
    if is_configured("base_url"):
        return settings.base_url
    shown = "127.0.0.1" if host in ANY_ADDRESS else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _refuse_taken_ports(settings: Settings, host: str, port: int) -> None:
    """A port another program holds is reported now, before any worker or beat starts."""
    from workers.supervisor import port_taken

    wanted = [(host, port, "--port", "the web pages")]
    if settings.smtp_is_capture:
        wanted.append(("127.0.0.1", settings.capture_port, "PAPERROUND_CAPTURE_PORT", "mail"))
    for address, number, knob, what in wanted:
        why = port_taken(address, number)
        if why is not None:
            raise click.ClickException(
                f"port {number} on {address} ({what}) is not free: {why}. Is another "
                f"`paperround run` or server using it? Stop it, or choose another with {knob}"
            )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Web address to bind.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Web port; links in mail follow it unless base_url is set.",
)
@click.option(
    "--concurrency",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes.",
)
@click.option(
    "--verbose",
    is_flag=True,
    help="Show the worker's, beat's and capture server's output here (else: data_dir/log/).",
)
@pass_runtime
@friendly_errors
def run(rt: Runtime, host: str, port: int, concurrency: int, verbose: bool) -> None:
    """Run the whole service: web pages, a Celery worker, beat, and (on embedded defaults)
    the capture SMTP server. Ctrl-C stops everything.

    Prints one "ready" block once the site answers. The web's request log shows here; the
    other processes log to files under data_dir/log/ (--verbose shows them here instead).
    """
    from workers.supervisor import Supervisor, children

    rt.creates_store = True
    s = rt.settings
    _refuse_taken_ports(s, host, port)
    prepare_store(rt)
    base_url = public_base_url(s, host, port)
    log_dir = None if verbose else s.data_dir / "log"
    supervisor = Supervisor(children(s, host, port, concurrency, log_dir))
    click.echo(f"Paperround is starting on http://{host}:{port}/ ...")
    supervisor.start(env={**os.environ, "PAPERROUND_BASE_URL": base_url})
    probe = f"http://{'127.0.0.1' if host in ANY_ADDRESS else host}:{port}/healthz"
    state = supervisor.wait_ready(lambda: _answers(probe), READY_TIMEOUT)
    if state == "ready":
        _ready_block(rt, base_url, log_dir)
        code = supervisor.wait()
    else:
        dead = supervisor.dead()
        if dead is not None:
            click.echo(supervisor.exit_line(dead), err=True)
        elif state == "timed out":
            click.echo(
                f"paperround: the web pages did not answer in {READY_TIMEOUT:.0f} s", err=True
            )
        supervisor.stop()
        code = 0 if state == "interrupted" else 1
    click.echo("Paperround stopped.", err=True)
    sys.exit(code)


def _ready_block(rt: Runtime, base_url: str, log_dir: Path | None) -> None:
    s = rt.settings
    lines = ["", "Paperround is ready", f"  site:   {base_url}/"]
    if s.smtp_is_capture:
        lines.append(f"  mail:   the Maildir {s.maildir}/ (open new/ with any mail client)")
    else:
        lines.append("  mail:   sent through the configured SMTP relay")
    lines.append(f"  store:  {rt.store_name}")
    broker = shown_value("broker_url", s.broker_url).strip("'") if s.broker_url else ""
    broker = broker or f"filesystem queue under {s.data_dir / 'broker'}"
    lines.append(f"  queue:  {broker}")
    if log_dir is not None:
        lines.append(f"  logs:   {log_dir}/ (worker, beat, capture); --verbose shows them here")
    lines += ["  stop:   Ctrl-C", ""]
    click.echo("\n".join(lines))
