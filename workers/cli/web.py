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
@pass_runtime
@friendly_errors
def web(rt: Runtime, host: str, port: int, threads: int | None) -> None:
    """Serve the web pages: subscribe, confirm, preferences, unsubscribe, archive, JSON API.

    Example: paperround web --port 8000, then open http://127.0.0.1:8000/
    """
    import waitress

    from workers.web import create_app

    settings = rt.settings
    app = create_app(rt.wiring)
    server = waitress.create_server(
        app,
        host=host,
        port=port,
        threads=threads or settings.web_threads,
        # Bounded before Flask sees it (Flask enforces web_max_request_bytes as well).
        max_request_body_size=settings.web_max_request_bytes,
        ident="paperround",
        # Behind a proxy, X-Forwarded-* are read by the app (web_trusted_proxies), not here.
        clear_untrusted_proxy_headers=True,
    )
    click.echo(
        f"Paperround web on http://{host}:{server.effective_port}/ "
        f"(public links use {settings.base_url}); Ctrl-C stops it"
    )
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        app.extensions["paperround"].mailer.close()
