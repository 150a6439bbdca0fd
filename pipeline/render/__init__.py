"""Rendering: an edition compiled once (Jinja2 -> MJML -> premailer), assembled per segment,
its reader-specific words left as placeholders for the message to fill."""

from pipeline.render.confirmation import confirmation_body, confirmation_subject
from pipeline.render.edition import (
    GMAIL_CLIP_BYTES,
    CompiledEdition,
    EmptyEdition,
    compile_edition,
    digest_subject,
)
from pipeline.render.engine import RenderError
from pipeline.render.model import DigestPaper, EditionContent, SegmentBody, Site
from pipeline.render.placeholders import ConfirmationFields, DigestLinks

__all__ = [
    "GMAIL_CLIP_BYTES",
    "CompiledEdition",
    "ConfirmationFields",
    "DigestLinks",
    "DigestPaper",
    "EditionContent",
    "EmptyEdition",
    "RenderError",
    "SegmentBody",
    "Site",
    "compile_edition",
    "confirmation_body",
    "confirmation_subject",
    "digest_subject",
]
