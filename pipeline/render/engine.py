"""The expensive path, run once per edition: Jinja2 -> MJML -> HTML -> premailer.

Kept apart from edition.py so the cheap per-segment and per-reader code never touches it, and
so a test can count how often mjml runs (it wraps `mjml_to_html` in this module).
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

import jinja2
from mjml import mjml_to_html as mjml_to_html  # re-exported: tests count calls here
from premailer import Premailer

from pipeline.render.fields import wrap
from pipeline.render.placeholders import PAPER_NUMBER
from pipeline.resources import templates_dir

DOCTYPE = "<!doctype html>\n"

_STYLE_OPEN = '<style type="text/css">'
_IGNORED_STYLE_OPEN = '<style type="text/css" data-premailer="ignore">'
_BLANK_LINES_RE = re.compile(r"\n[ \t]*(?:\n[ \t]*)*")
_IMG_WIDTH_RE = re.compile(r"<img\b[^>]*?\swidth=\"([^\"]*)\"")
_FORBIDDEN_RE = re.compile(r"<script\b|<link\b|<iframe\b|<object\b|<embed\b|<form\b", re.I)
# mjml hides the <mj-preview> preheader in white text; SpamAssassin scores white-on-light
# text as hidden text (HTML_FONT_LOW_CONTRAST, 0.7 points). It is display:none anyway, so
# give it the muted text colour, which contrasts with the page.
_PREVIEW_STYLE = "display:none;font-size:1px;color:#ffffff;"
_PREVIEW_STYLE_CONTRASTING = "display:none;font-size:1px;color:#59636e;"


class RenderError(RuntimeError):
    """The template pipeline produced something we refuse to send; the message says what."""


def _wrap_numbered(title: str) -> str:
    """Wrap a title under a 'N. ' prefix that is filled per segment (numbers up to 99 fit)."""
    wrapped = wrap(title, 76, "    ")
    return f"{PAPER_NUMBER}. " + wrapped[4:]


@functools.cache
def jinja_env() -> jinja2.Environment:
    """One environment for the email templates; StrictUndefined turns typos into errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir() / "email"),
        # MJML templates escape; text/plain and CSS templates must not (they are not HTML).
        autoescape=jinja2.select_autoescape(enabled_extensions=("mjml.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = wrap
    env.filters["wrap_numbered"] = _wrap_numbered
    return env


def render_text(template: str, context: dict[str, Any]) -> str:
    """Render a text/plain template."""
    return jinja_env().get_template(template).render(context)


def render_html(template: str, context: dict[str, Any]) -> str:
    """Render an MJML template and turn it into inlined, tidied email HTML."""
    env = jinja_env()
    mjml_source = env.get_template(template).render(context)
    inline_css = env.get_template("_inline.css.j2").render()
    return inline_styles(mjml_to_html_checked(mjml_source), inline_css)


def mjml_to_html_checked(mjml_source: str) -> str:
    """Compile MJML, failing loudly on the errors the port reports."""
    result = mjml_to_html(mjml_source)
    if result.errors:
        raise RenderError(f"mjml reported errors: {'; '.join(map(str, result.errors))}")
    return str(result.html).replace(_PREVIEW_STYLE, _PREVIEW_STYLE_CONTRASTING)


def inline_styles(html: str, inline_css: str) -> str:
    """Inline only our own CSS, keep mjml's and our head styles (media queries) as they are.

    Inlining mjml's skeleton styles too made a 10-card digest exceed Gmail's ~102 KB clip size
    (~105 KB against ~91 KB inlining only ours). premailer also turns CSS widths into
    width="100%" on images, so width and height attributes are left alone and checked
    afterwards.
    """
    marked = html.replace(_STYLE_OPEN, _IGNORED_STYLE_OPEN)
    widths_before = _IMG_WIDTH_RE.findall(html)
    inliner = Premailer(
        html=marked,
        css_text=[inline_css],
        base_url=None,
        disable_link_rewrites=True,
        allow_network=False,
        allow_loading_external_files=False,
        remove_classes=False,
        keep_style_tags=False,
        disable_basic_attributes=["width", "height"],
        cssutils_logging_level=logging.CRITICAL,
    )
    out = inliner.transform(pretty_print=False)
    # Styles inside Outlook conditional comments are text to lxml: drop our marker there.
    out = out.replace(' data-premailer="ignore"', "")
    out = DOCTYPE + _BLANK_LINES_RE.sub("\n", out).strip() + "\n"
    if _IMG_WIDTH_RE.findall(out) != widths_before:
        raise RenderError("premailer changed an image width attribute")
    if found := _FORBIDDEN_RE.search(out):
        raise RenderError(f"rendered email contains a forbidden tag {found.group(0)!r}")
    return out
