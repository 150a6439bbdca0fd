"""The web door: subscribe, confirm, preferences, unsubscribe, archive, and a small JSON API.

    from workers.web import create_app
    app = create_app(wiring)            # a WSGI app
    server = workers.web.server.make_server(app, settings, host=..., port=...)  # waitress

Everything a page does is a call into pipeline/ (subscriptions, tokens, confirmations,
ratelimit); the modules here only parse requests and render templates/web/.
"""

from workers.web.app import create_app

__all__ = ["create_app"]
