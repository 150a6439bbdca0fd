"""Refuse dangerous or unusable XML before any parser sees it, then parse with a locked-down lxml.

Feeds are untrusted. A DOCTYPE that declares entities can expand to gigabytes ("billion
laughs"); one naming a SYSTEM or PUBLIC identifier asks the parser to read a file or a URL
(XXE). Both are refused up front with a one-line reason, and the parser itself never loads
DTDs, resolves entities or touches the network, in case a check is ever bypassed.
"""

from __future__ import annotations

import codecs
import re
from typing import Any, NoReturn

from lxml import etree

from pipeline.ingest.entry import FeedError
from pipeline.ingest.normalize import html_to_text, single_line

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# XML 1.0 section 4.3.3: without a BOM the encoding is in the declaration, else UTF-8.
_DECLARED = re.compile(rb"^\s*<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([A-Za-z][\w.:-]{0,40})[\"']")
_MARKUP_OR_ROOT = re.compile(r"<!--|<\?|<([A-Za-z_:][\w:.-]*)")
_DOCTYPE = re.compile(r"<!DOCTYPE\s+([^\s\[>]+)([^\[>]*)", re.IGNORECASE)
_EXTERNAL_ID = re.compile(r"\b(SYSTEM|PUBLIC)\b")
# The RSS 0.91 feeds of the early web name Netscape's DTD; the parser never loads it (load_dtd
# is off and the network is off), so this one harmless identifier is let through.
_HARMLESS_PUBLIC_IDS = ("-//Netscape Communications//DTD RSS 0.91//EN",)
_HTML_ROOTS = frozenset({"html", "head", "body", "title", "meta", "div", "p", "h1", "h2", "center"})
_LXML_POSITION = re.compile(r",\s*line \d+, column \d+\s*$")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


def safe_parser() -> Any:
    """An lxml parser that cannot expand entities, load DTDs or reach the network."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def check_xml_body(body: bytes, content_type: str | None = None) -> str:
    """Refuse empty, mis-encoded, HTML or entity-declaring bodies; return the decoded text."""
    if not body.strip():
        _fail(f"empty body ({len(body)} bytes)")
    text = decode_xml(body)
    stripped = text.lstrip()
    if not stripped.startswith("<"):
        shown = single_line(stripped[:60])
        _fail(f"not an XML feed: the body starts with {shown!r}")
    root_pos, root_name = _find_root(text)
    doctype = _DOCTYPE.search(text, 0, root_pos if root_pos >= 0 else len(text))
    if _is_html(root_name, doctype):
        title = _TITLE.search(text, 0, 65536)
        said = f" (its title: {html_to_text(title.group(1))[:80]!r})" if title else ""
        ctype = f" served as {content_type!r}" if content_type else ""
        _fail(f"got an HTML page{ctype} instead of a feed{said}")
    if doctype:
        _refuse_dangerous_doctype(text, doctype)
    return text


def decode_xml(body: bytes) -> str:
    """The body as text in its declared encoding; a mismatch is an error naming the encoding."""
    encoding = "utf-8"
    for bom, name in _BOMS:
        if body.startswith(bom):
            encoding = name
            break
    else:
        if body.startswith((b"\x00<", b"<\x00")):
            encoding = "utf-16-be" if body[0] == 0 else "utf-16-le"
        else:
            declared = _DECLARED.match(body)
            if declared:
                encoding = declared.group(1).decode("ascii").lower()
    try:
        codecs.lookup(encoding)
    except LookupError:
        _fail(f"unknown encoding {encoding!r} declared in the XML declaration")
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as error:
        line = body.count(b"\n", 0, error.start) + 1
        bad = body[error.start : error.start + 1].hex().upper()
        _fail(
            f"body is not valid {encoding.upper()} as declared: byte 0x{bad} "
            f"at offset {error.start} (line {line}); the server mislabels its encoding"
        )


def parse_xml(body: bytes, content_type: str | None = None) -> Any:
    """Check the body, then parse it strictly; returns the root element."""
    check_xml_body(body, content_type)
    try:
        return etree.fromstring(body, safe_parser())
    except etree.XMLSyntaxError as error:
        line = error.lineno or 1
        reason = single_line(_LXML_POSITION.sub("", str(error.msg or error)))
        last_line = body.rstrip().count(b"\n") + 1
        hint = " (the body ends early: truncated?)" if line >= last_line else ""
        _fail(f"malformed XML at line {line}: {reason}{hint}")


def _find_root(text: str) -> tuple[int, str]:
    """Position and name of the first element, skipping comments and processing instructions."""
    pos = 0
    while True:
        match = _MARKUP_OR_ROOT.search(text, pos)
        if match is None:
            return -1, ""
        if match.group(1):
            return match.start(), match.group(1)
        end = text.find("-->" if match.group(0) == "<!--" else "?>", match.end())
        if end < 0:
            return -1, ""
        pos = end + 2


def _is_html(root_name: str, doctype: re.Match[str] | None) -> bool:
    local = root_name.rsplit(":", 1)[-1].lower()
    return local in _HTML_ROOTS or bool(doctype and doctype.group(1).lower() == "html")


def _refuse_dangerous_doctype(text: str, doctype: re.Match[str]) -> None:
    if "<!ENTITY" in text:
        _fail("the DOCTYPE declares entities (entity expansion, 'billion laughs'): refused")
    external = _EXTERNAL_ID.search(doctype.group(2))
    if external and not any(pid in doctype.group(2) for pid in _HARMLESS_PUBLIC_IDS):
        _fail(
            f"the DOCTYPE names an external DTD ({external.group(1)} identifier; "
            "external entities, XXE): refused"
        )


def _fail(reason: str) -> NoReturn:
    raise FeedError(single_line(reason))


def describe_non_feed(body: bytes, content_type: str | None = None) -> str:
    """One line saying why a body matched no format: the xmlsafe refusal, or its root element."""
    try:
        text = check_xml_body(body, content_type)
    except FeedError as error:
        return str(error)
    _, root_name = _find_root(text)
    found = f"an XML document with root <{root_name}>" if root_name else "no XML element"
    return (
        f"not a recognized feed: found {found}; expected arXiv RSS/Atom, "
        "Hugging Face daily papers JSON, or any RSS/Atom feed"
    )
