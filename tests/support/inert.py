"""Whether feed text stayed inert all the way to what a reader sees.

Stored fields are plain text and may hold "<" and "&" as characters. What matters is that no
renderer ever turns them into markup: this renders papers through the real digest path and
checks the HTML a reader would open.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

import lxml.html

from pipeline.ingest.entry import PaperEntry
from pipeline.render.edition import compile_edition
from pipeline.render.model import DigestPaper, EditionContent

_DANGEROUS = ("script", "iframe", "object", "embed", "svg", "math", "form", "input", "base")


def digest_of(entries: Iterable[PaperEntry]) -> tuple[str, str]:
    """(html, text) of a digest showing these entries, as compiled for every reader."""
    papers = [
        DigestPaper(
            key=str(index),
            arxiv_id=entry.arxiv_id,
            title=entry.title,
            authors=entry.authors,
            abstract=entry.abstract,
            categories=entry.categories,
            upvotes=entry.upvotes or 0,
            links=dict(entry.links),
            thumbnail=entry.thumbnail,
        )
        for index, entry in enumerate(entries)
    ]
    content = EditionContent(
        edition_id=1,
        cadence="daily",
        date=datetime.date(2026, 12, 1),
        papers=papers,
        site_name="Paperround",
        base_url="https://papers.example.org",
        postal_address="1 Example Street",
    )
    compiled = compile_edition(content)
    return compiled.html, compiled.text


def assert_inert(entries: Iterable[PaperEntry]) -> None:
    """No feed text became an element, a handler or a non-http(s) link in the digest."""
    entries = list(entries)
    html, text = digest_of(entries)
    tree = lxml.html.document_fromstring(html)
    body = tree.find("body")
    assert body is not None
    for name in _DANGEROUS:
        assert body.findall(f".//{name}") == [], f"<{name}> came through"
    assert body.findall(".//style") == []  # our CSS lives in <head> only
    for element in body.iter():
        for attribute in element.attrib:
            assert not attribute.lower().startswith("on"), (element.tag, attribute)
    for href in body.xpath("//a/@href"):
        assert href.startswith(("https://", "http://", "PRx")), href
    visible = " ".join(body.text_content().split())
    for entry in entries:
        shown = " ".join(entry.title.split())[:60]
        assert shown in visible or shown.replace("PRx", "PR\u200bx") in visible, shown
        assert shown in text or len(shown) > 50
