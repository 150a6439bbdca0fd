"""Making sure mail has somewhere to go on embedded defaults (the capture server)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import click

from pipeline.settings import Settings
from workers.capture import CaptureServer


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def mail_destination(settings: Settings) -> Iterator[None]:
    """With smtp_url = capture and no capture server running (`make run` starts one), run one
    in this process while the command sends, so the mail lands in the Maildir all the same."""
    if not settings.smtp_is_capture or _listening(settings.capture_port):
        yield
        return
    server = CaptureServer(settings.maildir, port=settings.capture_port)
    try:
        server.start()
    except OSError as exc:
        raise click.ClickException(
            f"cannot start the capture SMTP server on 127.0.0.1:{settings.capture_port}: {exc}; "
            "set PAPERROUND_CAPTURE_PORT or PAPERROUND_SMTP_URL"
        ) from exc
    click.echo(
        f"capture SMTP server on 127.0.0.1:{server.port}, mail lands in {settings.maildir}/new",
        err=True,
    )
    try:
        yield
    finally:
        server.stop()
