"""The digest: who is due, which papers each reader gets (planning, selection), and the
messages made of them (composition, preview)."""

from pipeline.digest.compose import DigestComposer, edition_content, edition_loader
from pipeline.digest.due import is_due, plan_due
from pipeline.digest.planning import PlanReport, plan_edition, slot_for
from pipeline.digest.preview import Preview, PreviewError, edition_page, preview_digest

__all__ = [
    "DigestComposer",
    "PlanReport",
    "Preview",
    "PreviewError",
    "edition_content",
    "edition_loader",
    "edition_page",
    "is_due",
    "plan_due",
    "plan_edition",
    "preview_digest",
    "slot_for",
]
