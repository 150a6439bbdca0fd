"""`paperround web`: the subscription pages, served by waitress (a production WSGI server)."""

from __future__ import annotations

import click

from workers.cli.runtime import Runtime, friendly_errors, pass_runtime


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (use 0.0.0.0 only behind a proxy or firewall).",
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=None,
    help="Worker threads (default: the web_threads setting).",
)
@click.option(
    "--no-banner", is_flag=True, hidden=True, help="No start-up line (`run` has its own)."
)
@pass_runtime
@friendly_errors
def web(rt: Runtime, host: str, port: int, threads: int | None, no_banner: bool) -> None:
    """Serve the web pages: subscribe, confirm, preferences, unsubscribe, archive, JSON API.

    Each request is logged on standard error, one line, without the tokens of signed links.
    Example: paperround web --port 8000, then open http://127.0.0.1:8000/
    """
    from workers.web import create_app
    from workers.web.access_log import AccessLog
    from workers.web.server import make_server

    settings = rt.settings
    app = create_app(rt.wiring)
    app.wsgi_app = AccessLog(app.wsgi_app, lambda line: click.echo(line, err=True))  # type: ignore[method-assign]
    server = make_server(app, settings, host=host, port=port, threads=threads)
    if not no_banner:
        click.echo(
            f"Paperround web on http://{host}:{server.port}/ "
            f"(public links use {settings.base_url}); Ctrl-C stops it"
        )
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        app.extensions["paperround"].mailer.close()
