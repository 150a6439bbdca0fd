"""The double opt-in mail's body, compiled once per site (sign-ups can come in bursts).

The confirm link and the address stay placeholders (ConfirmationFields): the message fills
them per sign-up, through the same splice as a digest's links.
"""

from __future__ import annotations

import functools

from pipeline.render import engine
from pipeline.render.context import site_context
from pipeline.render.model import check_site
from pipeline.text import one_line


@functools.lru_cache(maxsize=8)
def confirmation_body(site_name: str, base_url: str, postal_address: str) -> tuple[str, str]:
    """(html, text) of the double opt-in mail, placeholders left in; compiled once per site."""
    check_site(site_name, base_url, postal_address)
    context = site_context(site_name, base_url, postal_address)
    context["title"] = f"Confirm your {context['site_name']} subscription"
    context["preview"] = "One click to start receiving the digest."
    return (
        engine.render_html("confirm.mjml.j2", context),
        engine.render_text("confirm.txt.j2", context),
    )


def confirmation_subject(site_name: str) -> str:
    return f"Confirm your {one_line(site_name)} subscription"
