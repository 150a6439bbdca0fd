"""The digest renderer: compiled once, assembled per segment, personalized per reader.

Runs the real Jinja2 -> mjml -> premailer path; no mocks. The one wrapper used (counting
calls to mjml) calls the real compiler. What a reader sees is read back from the message that
fills the placeholders (pipeline/mail/message.py), the only place they are filled.
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import json
import random
import re
from pathlib import Path

import lxml.html
import pytest

from pipeline.digest.preview import message_parts
from pipeline.mail.message import MessageTemplate
from pipeline.render import engine as render_engine
from pipeline.render.confirmation import confirmation_body, confirmation_subject
from pipeline.render.edition import (
    GMAIL_CLIP_BYTES,
    CompiledEdition,
    compile_edition,
    digest_subject,
)
from pipeline.render.fields import shorten_authors, trim_abstract
from pipeline.render.model import DigestPaper, EditionContent, SegmentBody
from pipeline.render.placeholders import ConfirmationFields, DigestLinks
from tests.conftest import FIXTURES, require_chromium

RENDER_FIXTURES = FIXTURES / "render"
DAY = datetime.date(2026, 11, 26)
LINKS = DigestLinks(
    unsubscribe_url='https://paperround.example/u/eyJzIjoxMjM0NX0.Zx-9aQ?list=daily&x="1"',
    preferences_url="https://paperround.example/prefs/eyJzIjoxMjM0NX0.Zx-9aQ?a=1&b=<2>",
    view_in_browser_url="https://paperround.example/e/2026-11-26/daily?r=eyJzIjoxMjM0NX0&v=1",
)
ABSTRACT_600 = " ".join(["representation"] * 10 + ["learning", "under", "distribution"] * 12)[:600]


def _read_back(
    html_body: str, text_body: str, subject: str, values: dict[str, str]
) -> tuple[str, str]:
    template = MessageTemplate.build(
        html=html_body,
        text=text_body,
        subject=subject,
        from_addr="digest@paperround.example",
        from_name="Paperround",
        list_id="Paperround digest <digest.paperround.example>",
        feedback_id="",
        sender_domain="paperround.example",
    )
    message = template.render_for(
        "reader@example.org",
        values,
        unsubscribe_url="https://paperround.example/u/1",
        unsubscribe_mailto="",
    )
    html_out, text_out, _ = message_parts(message)
    return html_out, text_out


def personalize(body: SegmentBody, links: DigestLinks) -> tuple[str, str]:
    """(html, text) as a reader sees them: the segment's body through its message."""
    return _read_back(body.html, body.text, body.subject, dict(links.values()))


def render_confirmation(url: str, site: str, base: str, postal: str, email: str) -> tuple[str, str]:
    html_body, text_body = confirmation_body(site, base, postal)
    values = dict(ConfirmationFields(confirm_url=url, email=email).values())
    return _read_back(html_body, text_body, confirmation_subject(site), values)


def fixture_papers() -> list[DigestPaper]:
    raw = json.loads((RENDER_FIXTURES / "papers.json").read_text(encoding="utf-8"))
    return [
        DigestPaper(
            **{**item, "authors": tuple(item["authors"]), "categories": tuple(item["categories"])}
        )
        for item in raw
    ]


def big_paper(i: int, *, thumbnail: bool = True) -> DigestPaper:
    """A worst-case-ish card: long title, 30 long author names, 600-char abstract, all links."""
    arxiv = f"2411.{i:05d}"
    return DigestPaper(
        key=arxiv,
        arxiv_id=arxiv,
        title=f"Scaling laws for sparse attention in long-context transformers, part {i}: "
        "theory, experiments and an open benchmark suite",
        authors=tuple(f"Firstname{j} Middlename Lastname-Hyphenated{j}" for j in range(30)),
        abstract=ABSTRACT_600,
        categories=("cs.LG", "cs.CL", "cs.AI", "stat.ML"),
        upvotes=1000 - i,
        links={
            "abs": f"https://arxiv.org/abs/{arxiv}",
            "pdf": f"https://arxiv.org/pdf/{arxiv}v2",
            "html": f"https://arxiv.org/html/{arxiv}v2",
            "code": f"https://github.com/some-research-lab/sparse-attention-scaling-{i}",
            "project": f"https://some-research-lab.github.io/projects/sparse-attention-{i}/",
        },
        thumbnail=f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{arxiv}.png"
        if thumbnail
        else None,
    )


def edition(papers: list[DigestPaper], **overrides: object) -> EditionContent:
    values: dict[str, object] = {
        "edition_id": 7,
        "cadence": "daily",
        "date": DAY,
        "papers": papers,
        "site_name": "Paperround",
        "base_url": "https://paperround.example",
        "postal_address": "Paperround\n12 Example Street\n10115 Berlin, Germany",
        "intro": "The papers readers upvoted most in the last day.",
    }
    values.update(overrides)
    return EditionContent(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def compiled() -> CompiledEdition:
    return compile_edition(edition(fixture_papers()))


def fill_all(document: str, n: int, ranking: str = "ranked by reader upvotes") -> str:
    """What assembling all n papers without reasons or feedback must give: the count phrase,
    the ranking phrase and numbers 1..n filled, the card slots empty."""
    numbers = iter(range(1, n + 1))
    out = re.sub("PRxPAPERxNUMBER", lambda _m: str(next(numbers)), document)
    for slot in ("PRxPAPERxSECTION", "PRxPAPERxREASON", "PRxPAPERxFEEDBACK"):
        out = out.replace(slot, "")
    return out.replace("PRxPAPERxCOUNT", f"{n} papers").replace("PRxRANKINGxPHRASE", ranking)


def visible_text(markup: str) -> str:
    return " ".join(lxml.html.document_fromstring(markup).text_content().split())


# --- compile once, assemble by joins ------------------------------------------------------


def test_pieces_rejoin_to_the_compiled_document_byte_for_byte(compiled: CompiledEdition) -> None:
    keys = [paper.key for paper in compiled.content.papers]
    body = compiled.assemble(keys)
    assert body.html == fill_all(compiled.html, len(keys))
    assert body.text == fill_all(compiled.text, len(keys))
    assert "PRxPAPERxSTART" not in compiled.html + compiled.text


def test_a_segment_equals_compiling_just_its_papers(compiled: CompiledEdition) -> None:
    first, _, third = fixture_papers()
    segment = [third.key, first.key]
    alone = compile_edition(edition([third, first])).assemble(segment)
    assembled = compiled.assemble(segment)
    assert assembled.html == alone.html
    assert assembled.text == alone.text
    assert assembled.subject == alone.subject


def test_numbering_and_count_follow_the_segment(compiled: CompiledEdition) -> None:
    first, _, third = fixture_papers()
    body = compiled.assemble([third.key, first.key])
    text = visible_text(body.html)
    assert "Today's 2 papers, ranked" in text
    assert text.index("1. A Survey of Retrieval") < text.index("2. Sparse Mixture-of-Experts")
    assert "1. A Survey of Retrieval" in body.text
    assert "2. Sparse Mixture-of-Experts" in body.text
    assert body.subject == "Paperround daily: 2 trending papers, 26 Nov 2026"
    single = compiled.assemble([first.key])
    assert "Today's 1 paper, ranked" in visible_text(single.html)
    assert "Today's 1 paper, ranked" in single.text
    assert "Tom & Jerry" not in single.text


def test_one_mjml_compile_per_edition_and_fast_assembly(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = render_engine.mjml_to_html

    def counting(source: str) -> object:
        calls.append(len(source))
        return real(source)

    monkeypatch.setattr(render_engine, "mjml_to_html", counting)
    papers = [big_paper(i) for i in range(20)]
    compiled = compile_edition(edition(papers))
    keys = [paper.key for paper in papers]
    rng = random.Random(42)
    segments = [rng.sample(keys, rng.randint(5, 15)) for _ in range(2_000)]
    sizes = {len(compiled.assemble(segment).html) for segment in segments}
    assert len(calls) == 1
    assert len(sizes) > 100  # the segments really differ
    body = compiled.assemble(keys)
    for reader in range(50):
        personalize(body, dataclasses.replace(LINKS, unsubscribe_url=f"https://x.example/{reader}"))
    assert len(calls) == 1  # (how fast this is, is the digest benchmark's business)


# --- personalization ----------------------------------------------------------------------


def test_personalize_replaces_every_token_escaped_in_html_raw_in_text(
    compiled: CompiledEdition,
) -> None:
    body = compiled.assemble([paper.key for paper in compiled.content.papers])
    assert "PRxUNSUBSCRIBExURL" in body.html  # the tokens survived mjml and premailer
    html_out, text_out = personalize(body, LINKS)
    assert "PRx" not in html_out
    assert "PRx" not in text_out
    tree = lxml.html.document_fromstring(html_out)
    hrefs = tree.xpath("//a/@href")
    for url in (LINKS.unsubscribe_url, LINKS.preferences_url, LINKS.view_in_browser_url):
        assert html.escape(url, quote=True) in html_out
        assert url in hrefs
        assert url in text_out.splitlines()


def test_hostile_text_cannot_ask_for_a_personal_link() -> None:
    sneaky = big_paper(1, thumbnail=False)
    sneaky = dataclasses.replace(
        sneaky,
        title="Click PRxUNSUBSCRIBExURL now PRxPAPERxNUMBER PRxPAPERxCOUNT",
        abstract="<!--PRxPAPERSxEND--> PRxPAPERxSTARTx0\nPRxPAPERSxEND\n tail",
        links={"abs": "https://example.org/PRxUNSUBSCRIBExURL"},
    )
    compiled = compile_edition(edition([sneaky, big_paper(2)]))
    html_out, text_out = personalize(compiled.assemble([sneaky.key]), LINKS)
    escaped = html.escape(LINKS.unsubscribe_url, quote=True)
    assert html_out.count(escaped) == 1  # the footer link only
    assert text_out.count(LINKS.unsubscribe_url) == 1
    assert "Click PR\u200bxUNSUBSCRIBExURL now" in visible_text(html_out)
    assert "https://example.org/PR%78UNSUBSCRIBExURL" in html_out


# --- safety ---------------------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "</mj-text></mj-column></mj-section><mj-raw><script>alert(1)</script></mj-raw>",
    '"x" style="font-family: Roboto" "',  # would make mjml add a Google Fonts <link>
]


@pytest.mark.parametrize("evil", HOSTILE)
def test_hostile_paper_text_renders_as_visible_text(evil: str) -> None:
    paper = DigestPaper(
        key="evil",
        arxiv_id=None,
        title=f"Title {evil}",
        authors=(f"Eve {evil}",),
        abstract=f"Abstract {evil}",
        categories=(evil[:30],),
        upvotes=3,
        links={
            "abs": "javascript:alert(1)",
            "pdf": f"https://example.org/a{evil}",
            "code": "https://example.org/ok",
        },
        thumbnail='https://example.org/t.png" onerror="alert(1)',
        summary=f"Summary {evil}",
    )
    pictured = dataclasses.replace(paper, key="pictured", thumbnail="https://example.org/t.png")
    compiled = compile_edition(edition([paper, pictured], intro=f"Intro {evil}"))
    html_out, text_out = personalize(compiled.assemble(["evil", "pictured"]), LINKS)
    assert "<script" not in html_out.lower()
    tree = lxml.html.document_fromstring(html_out)
    assert not tree.xpath("//script | //svg | //iframe | //object | //embed | //form")
    assert not [a for a in tree.xpath("//@*") if a.attrname.lower().startswith("on")]
    assert not [h for h in tree.xpath("//@href | //@src") if not h.startswith("https://")]
    assert tree.xpath("//img/@src") == ["https://example.org/t.png"]  # one refused
    alt = tree.xpath("//img/@alt")[0].replace("\u200b", "")
    assert alt.startswith(f"Figure: Title {evil}"[:24])  # the title, as an attribute value
    text = visible_text(html_out).replace("\u200b", "")  # (zero-width spaces: see fields)
    assert f"Title {evil}" in text
    assert f"Eve {evil}"[:60] in text  # author names are cut at 80 characters
    assert f"TL;DR Summary {evil}" in text
    flat_text = " ".join(text_out.replace("\u200b", "").split())
    assert f"Title {evil}" in flat_text  # the text part is not HTML-escaped
    assert f"TL;DR: Summary {evil}" in flat_text
    assert "https://example.org/ok" in text_out
    assert "javascript:" not in text_out


def test_a_tldr_shows_on_the_card_only_when_the_source_has_one() -> None:
    plain, summarized = fixture_papers()[:2]
    summarized = dataclasses.replace(summarized, summary="Routing\n experts   cheaply.")
    compiled = compile_edition(edition([plain, summarized]))
    html_out, text_out = personalize(compiled.assemble([plain.key, summarized.key]), LINKS)
    tree = lxml.html.document_fromstring(html_out)
    (tldr,) = tree.xpath("//p[contains(@class, 'tldr')]")
    assert tldr.text_content() == "TL;DR Routing experts cheaply."
    assert text_out.count("TL;DR:") == 1 and "    TL;DR: Routing experts cheaply." in text_out
    # the TL;DR sits between the paper's title and its abstract
    assert text_out.index(summarized.title[:20]) < text_out.index("TL;DR:")
    assert text_out.index("TL;DR:") < text_out.index(summarized.abstract[:20])


def test_quotes_in_the_site_name_do_not_break_attributes() -> None:
    content = edition(fixture_papers()[:1], site_name='The "Paper" <Round>')
    html_out, _ = personalize(compile_edition(content).assemble(["2411.01234"]), LINKS)
    tree = lxml.html.document_fromstring(html_out)
    assert tree.xpath("//div[@role='article']/@aria-label")[0].startswith("The 'Paper' <Round>")
    assert 'The "Paper" <Round>' in visible_text(html_out)


def test_html_has_no_script_no_external_css_and_keeps_phone_and_dark_styles() -> None:
    papers = [big_paper(0), big_paper(1, thumbnail=False)]
    html_out, _ = personalize(compile_edition(edition(papers)).assemble(["2411.00000"]), LINKS)
    assert html_out.startswith("<!doctype html>\n")
    lowered = html_out.lower()
    for forbidden in ("<script", "<link", "@import", "fonts.googleapis", "javascript:"):
        assert forbidden not in lowered
    tree = lxml.html.document_fromstring(html_out)
    assert tree.xpath("//meta[@name='color-scheme']/@content") == ["light dark"]
    styles = " ".join(tree.xpath("//style/text()"))
    assert "@media only screen and (max-width:480px)" in styles
    assert "@media (prefers-color-scheme: dark)" in styles
    assert "data-premailer" not in html_out
    # Two stacking columns for a paper with a thumbnail; the width attribute survived premailer.
    assert tree.xpath("//div[contains(@class, 'mj-column-per-25')]//img/@width") == ["96"]
    assert tree.xpath("//img/@alt")[0].startswith("Figure: Scaling laws")
    # premailer inlined our own CSS onto the elements: the title is visibly a link, in
    # light mode (inline) and dark mode (the link colour, not the text colour, wins).
    title_link = tree.xpath("//h2[@class='title']/a")[0]
    title_style = title_link.get("style").replace(" ", "")
    assert "text-decoration:underline" in title_style and "color:#0b57d0" in title_style
    assert "h2 a" not in styles


# --- every paper has a way in ------------------------------------------------------------


def feed_item(key: str, links: dict[str, str], **changes: object) -> DigestPaper:
    """A paper from a generic RSS/Atom feed: no arXiv id, keyed by its link or its DOI."""
    values: dict[str, object] = {
        "key": key,
        "arxiv_id": None,
        "title": "Notes on sparse attention",
        "authors": ("Ann Lee",),
        "abstract": "A lab's post about a paper.",
        "categories": (),
        "upvotes": 0,
        "links": links,
    }
    values.update(changes)
    return DigestPaper(**values)  # type: ignore[arg-type]


def test_feed_items_link_their_page_and_show_their_doi_in_html_and_text() -> None:
    own = "https://lab.example.org/posts/7?ref=feed&x=1"
    doi_url = "https://doi.org/10.1101/2024.01.02.573001"
    by_link = feed_item("link-item", {"link": own}, title="Posted by a lab")
    by_doi = feed_item("doi-item", {"doi": doi_url}, title="Printed by a journal")
    compiled = compile_edition(edition([by_link, by_doi]))
    html_out, text_out = personalize(compiled.assemble(["link-item", "doi-item"]), LINKS)
    tree = lxml.html.document_fromstring(html_out)
    titles = {a.text_content(): a.get("href") for a in tree.xpath("//h2[@class='title']/a")}
    assert titles == {"Posted by a lab": own, "Printed by a journal": doi_url}
    shown = {a.text_content(): a.get("href") for a in tree.xpath("//p[@class='links']/a")}
    assert shown["lab.example.org"] == own  # where the link leads, as text
    assert shown["DOI 10.1101/2024.01.02.573001"] == doi_url
    assert f"Link:     {own}" in text_out
    assert f"DOI:      {doi_url}" in text_out


def test_every_card_title_is_a_link() -> None:
    papers = [*fixture_papers(), feed_item("k1", {"link": "https://a.example/1"})]
    papers.append(feed_item("k2", {"doi": "https://doi.org/10.1/2"}, title="Another item"))
    compiled = compile_edition(edition(papers))
    html_out, _ = personalize(compiled.assemble([p.key for p in papers]), LINKS)
    tree = lxml.html.document_fromstring(html_out)
    cards = tree.xpath("//h2[@class='title']")
    assert len(cards) == len(papers)
    assert all(card.xpath("./a[starts-with(@href, 'https://')]") for card in cards)


# --- TeX ------------------------------------------------------------------------------------


def test_tex_reads_as_unicode_in_html_and_text_and_escaping_holds() -> None:
    paper = feed_item(
        "tex",
        {"abs": "https://arxiv.org/abs/2411.00001"},
        title=r"$\alpha$-Stable <Noise> & $x < y$ Bounds: \textbf{<b>bold</b>}",
        abstract=r"We show $\epsilon \leq 10^{-3}$ with $\mathcal{O}(n \log n)$ cost, "
        r"Schr\"odinger's way.",
    )
    compiled = compile_edition(edition([paper]))
    html_out, text_out = personalize(compiled.assemble(["tex"]), LINKS)
    title = "\u03b1-Stable <Noise> & x < y Bounds: <b>bold</b>"
    abstract = "We show ϵ ≤ 10⁻³ with O(n log n) cost, Schrödinger's way."
    assert title in visible_text(html_out) and abstract in visible_text(html_out)
    assert "&lt;b&gt;bold&lt;/b&gt;" in html_out and "<b>bold" not in html_out
    flat = " ".join(text_out.split())
    assert title in flat and abstract in flat  # plain text: not escaped
    for raw in ("$", "\\alpha", "\\leq", "\\textbf", "\\mathcal", '\\"o'):
        assert raw not in visible_text(html_out) and raw not in flat


def test_tex_in_a_quoted_title_reads_as_unicode_in_the_reasons() -> None:
    paper = fixture_papers()[0]
    compiled = compile_edition(edition([paper]))
    reason = r'similar to "$\beta$-VAEs revisited", which you liked'
    body = compiled.assemble([paper.key], reasons=[(reason,)])
    html_out, text_out = personalize(body, LINKS)
    assert 'Why: similar to "β-VAEs revisited", which you liked' in visible_text(html_out)
    assert 'similar to "β-VAEs revisited"' in " ".join(text_out.split())


# --- how a segment is ranked -----------------------------------------------------------------


def test_the_intro_says_upvotes_only_when_the_segment_has_upvotes() -> None:
    voted = fixture_papers()[0]
    assert voted.upvotes > 0
    quiet = feed_item("quiet", {"link": "https://a.example/q"}, upvotes=0)
    compiled = compile_edition(edition([voted, quiet], intro=None))
    with_votes = compiled.assemble([voted.key, quiet.key])
    without = compiled.assemble(["quiet"])
    personal = compiled.assemble(["quiet"], reasons=[("new in the window",)])
    assert "ranked by reader upvotes." in visible_text(with_votes.html)
    for body in (without, personal):
        assert "upvote" not in visible_text(body.html).lower()
        assert "upvote" not in body.text.lower()
    assert "ranked by how new they are and how many feeds list them." in without.text
    assert "picked for you from your interests" in visible_text(personal.html)


# --- size budget ----------------------------------------------------------------------------


def largest_fitting_prefix(compiled: CompiledEdition) -> int:
    keys = [paper.key for paper in compiled.content.papers]
    fits = 0
    for n in range(1, len(keys) + 1):
        html_out, _ = personalize(compiled.assemble(keys[:n]), LINKS)
        if len(html_out.encode("utf-8")) >= GMAIL_CLIP_BYTES:
            break
        fits = n
    return fits


def test_twenty_big_papers_stay_under_gmail_clipping() -> None:
    papers = [big_paper(i) for i in range(20)]
    compiled = compile_edition(edition(papers))
    html_out, _ = personalize(compiled.assemble([p.key for p in papers]), LINKS)
    assert len(html_out.encode("utf-8")) < GMAIL_CLIP_BYTES


def test_fifty_papers_compile_and_the_budget_caps_a_segment() -> None:
    papers = [big_paper(i) for i in range(50)]
    compiled = compile_edition(edition(papers))
    fits = largest_fitting_prefix(compiled)
    assert 20 <= fits < 50  # 23 worst-case cards with thumbnails fit (30 without)
    html_out, _ = personalize(compiled.assemble([p.key for p in papers]), LINKS)
    assert len(html_out.encode("utf-8")) >= GMAIL_CLIP_BYTES


# --- text part ------------------------------------------------------------------------------


def test_text_part_lists_every_title_and_link_wrapped(compiled: CompiledEdition) -> None:
    papers = fixture_papers()
    _, text_out = personalize(compiled.assemble([p.key for p in papers]), LINKS)
    flat = " ".join(text_out.split())
    for paper in papers:
        assert paper.title in flat
        for url in paper.links.values():
            assert url in text_out.split()
    assert "Tom & Jerry: Adversarial <Games>" in text_out  # not HTML-escaped
    for line in text_out.splitlines():
        assert len(line) <= 76 or "://" in line, line
    assert "10115 Berlin, Germany" in text_out
    assert "Ana Lima, Bo Chen, Chidi Okafor et al." in text_out


def test_text_part_matches_the_golden_file(compiled: CompiledEdition) -> None:
    papers = fixture_papers()
    _, text_out = personalize(compiled.assemble([p.key for p in papers]), LINKS)
    assert text_out == (RENDER_FIXTURES / "digest_fixture.txt").read_text(encoding="utf-8")


# --- field shaping --------------------------------------------------------------------------


def test_abstract_is_trimmed_at_a_word_boundary() -> None:
    trimmed = trim_abstract(ABSTRACT_600)
    assert 350 <= len(trimmed) <= 421
    assert trimmed.endswith("\u2026")
    kept = trimmed[:-1]
    assert ABSTRACT_600.startswith(kept)
    assert ABSTRACT_600[len(kept)] == " "
    assert trim_abstract("  Short\n abstract. ") == "Short abstract."


def test_long_author_lists_are_shortened() -> None:
    assert shorten_authors(("A", "B", "C", "D", "E")) == "A, B, C et al."
    assert shorten_authors(("A", "B", "C", "D")) == "A, B, C, D"
    assert shorten_authors(()) == ""


def test_subject_is_one_line() -> None:
    content = edition(fixture_papers())
    assert digest_subject(content, 12) == "Paperround daily: 12 trending papers, 26 Nov 2026"
    weekly = edition(fixture_papers(), cadence="weekly", site_name="Paper\r\nBcc: x@y.z")
    assert digest_subject(weekly, 1) == "Paper Bcc: x@y.z weekly: 1 trending paper, 26 Nov 2026"


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: edition(fixture_papers(), cadence="hourly"), "cadence must be"),
        (lambda: edition(fixture_papers() * 2), "lists a paper key twice"),
        (lambda: edition(fixture_papers(), base_url="javascript:alert(1)"), "base_url"),
        (lambda: edition(fixture_papers(), postal_address=" "), "postal_address"),
        (lambda: compile_edition(edition([])), "has no papers"),
        (lambda: dataclasses.replace(fixture_papers()[0], title=" "), "empty title"),
        (lambda: dataclasses.replace(fixture_papers()[0], upvotes=-1), "negative upvotes"),
    ],
)
def test_bad_edition_input_gives_a_one_line_error(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        build()  # type: ignore[operator]
    assert "\n" not in str(caught.value)


def test_bad_segments_give_a_one_line_error(compiled: CompiledEdition) -> None:
    key = compiled.content.papers[0].key
    for keys, message in (
        ([], "at least one paper"),
        (["nope"], "'nope' is not in edition 7"),
        ([key, key], "lists a paper twice"),
    ):
        with pytest.raises(ValueError, match=message) as caught:
            compiled.assemble(keys)
        assert "\n" not in str(caught.value)


# --- confirmation mail ----------------------------------------------------------------------


def test_confirmation_mail_has_button_link_text_and_ignore_line() -> None:
    url = "https://paperround.example/confirm/eyJlIjoiYUBiLmMifQ.abc?next=/&x=1"
    email = 'o"neil+<b>@example.org'
    html_out, text_out = render_confirmation(
        url, "Paperround", "https://paperround.example", "12 Example Street\nBerlin", email
    )
    assert "PRx" not in html_out + text_out
    assert "<script" not in html_out.lower()
    tree = lxml.html.document_fromstring(html_out)
    buttons = tree.xpath("//a[normalize-space()='Confirm your subscription']/@href")
    assert buttons == [url]
    assert url in tree.xpath("//a/text()")  # the link as text too
    text = visible_text(html_out)
    assert "If you did not ask for this, ignore this email" in text
    assert email in text
    assert "<b>" not in html_out
    assert url in text_out.splitlines()
    assert "If you did not ask for this, ignore this email" in " ".join(text_out.split())
    assert "12 Example Street" in text_out and "Berlin" in text


def test_premailer_keeps_image_width_attributes_even_when_css_sets_a_width() -> None:
    page = '<html><body><img src="https://x.example/a.png" width="96" alt="a"></body></html>'
    out = render_engine.inline_styles(page, "img { width: 100%; height: 50px; }")
    img = lxml.html.document_fromstring(out).xpath("//img")[0]
    assert img.get("width") == "96"
    assert "width:100%" in img.get("style").replace(" ", "")  # the CSS itself was inlined


# --- in a real browser ----------------------------------------------------------------------


@pytest.mark.browser
def test_digest_stacks_on_phones_and_follows_dark_mode(tmp_path: Path) -> None:
    chromium = require_chromium()
    from playwright.sync_api import sync_playwright

    papers = fixture_papers()
    html_out, _ = personalize(compile_edition(edition(papers)).assemble([papers[0].key]), LINKS)
    page_file = tmp_path / "digest.html"
    page_file.write_text(html_out, encoding="utf-8")
    geometry = (
        "() => { const img = document.querySelector('img').getBoundingClientRect();"
        " const h2 = document.querySelector('h2').getBoundingClientRect();"
        " return [document.documentElement.scrollWidth, img.bottom <= h2.top,"
        " getComputedStyle(document.querySelector('.card')).backgroundColor]; }"
    )
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        try:
            results = {}
            for width, scheme in ((375, "light"), (640, "light"), (640, "dark")):
                page = browser.new_page(
                    viewport={"width": width, "height": 900},
                    color_scheme=scheme,  # type: ignore[arg-type]
                )
                page.route(
                    "**/*",
                    lambda route: (
                        route.abort()
                        if not route.request.url.startswith("file:")
                        else route.continue_()
                    ),
                )
                page.goto(page_file.as_uri())
                results[(width, scheme)] = page.evaluate(geometry)
                page.close()
        finally:
            browser.close()
    phone, desktop, dark = results[(375, "light")], results[(640, "light")], results[(640, "dark")]
    assert phone[0] <= 375  # no horizontal scrolling on a phone
    assert phone[1] is True  # thumbnail column stacked above the text
    assert desktop[1] is False  # side by side on a wide screen
    assert desktop[2] == "rgb(255, 255, 255)"
    assert dark[2] == "rgb(27, 30, 34)"
