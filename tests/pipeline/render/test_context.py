"""pipeline.render.context and fields: dates, the edition context, untrusted text and URLs."""

from __future__ import annotations

import datetime
import locale
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.render.context import edition_context, long_date, short_date, site_context
from pipeline.render.fields import (
    AUTHOR_NAME_LIMIT,
    MAX_CATEGORIES_SHOWN,
    TITLE_LIMIT,
    URL_LIMIT,
    clean_text,
    neutralize_tokens,
    safe_url,
    shorten_authors,
    trim_abstract,
)
from pipeline.render.model import DigestPaper, EditionContent
from pipeline.render.placeholders import PAPER_COUNT, PREFIX, UNSUBSCRIBE_URL

THURSDAY = datetime.date(2026, 11, 26)
ELLIPSIS = "\u2026"


# --- dates ---------------------------------------------------------------------------------


@pytest.fixture
def foreign_time_locale() -> Iterator[str]:
    """LC_TIME set to a non-English locale when this system has one (restored afterwards)."""
    saved = locale.setlocale(locale.LC_TIME)
    chosen = saved
    for name in ("de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "es_ES.UTF-8"):
        try:
            chosen = locale.setlocale(locale.LC_TIME, name)
            break
        except locale.Error:
            continue
    yield chosen
    locale.setlocale(locale.LC_TIME, saved)


@pytest.mark.parametrize(
    ("day", "short", "long"),
    [
        (THURSDAY, "26 Nov 2026", "Thursday, 26 November 2026"),
        (datetime.date(2027, 1, 3), "3 Jan 2027", "Sunday, 3 January 2027"),
        (datetime.date(2026, 5, 1), "1 May 2026", "Friday, 1 May 2026"),
        (datetime.date(2028, 2, 29), "29 Feb 2028", "Tuesday, 29 February 2028"),
        (datetime.date(2026, 9, 14), "14 Sep 2026", "Monday, 14 September 2026"),
    ],
)
def test_dates_are_english_whatever_the_locale(
    foreign_time_locale: str, day: datetime.date, short: str, long: str
) -> None:
    assert short_date(day) == short
    assert long_date(day) == long


def test_dates_accept_datetimes() -> None:
    moment = datetime.datetime(2026, 11, 26, 23, 59, tzinfo=datetime.UTC)
    assert short_date(moment) == "26 Nov 2026"
    assert long_date(moment) == "Thursday, 26 November 2026"


# --- edition_context ---------------------------------------------------------------------------


def make_paper(key: str = "arxiv:2611.00001", **changes: Any) -> DigestPaper:
    fields: dict[str, Any] = {
        "key": key,
        "arxiv_id": key.removeprefix("arxiv:"),
        "title": "A paper",
        "authors": ("Ann", "Bob"),
        "abstract": "An abstract.",
        "categories": ("cs.CL",),
        "upvotes": 3,
        "links": {
            "abs": "https://arxiv.org/abs/2611.00001",
            "pdf": "https://arxiv.org/pdf/2611.00001",
        },
    }
    fields.update(changes)
    return DigestPaper(**fields)


def make_content(*papers: DigestPaper, **changes: Any) -> EditionContent:
    fields: dict[str, Any] = {
        "edition_id": 1,
        "cadence": "daily",
        "date": THURSDAY,
        "papers": papers or (make_paper(),),
        "site_name": "Paperround",
        "base_url": "https://paperround.example",
        "postal_address": "1 Example Street\n\n12345 Town\n",
    }
    fields.update(changes)
    return EditionContent(**fields)


def one_paper(**changes: Any) -> dict[str, Any]:
    papers = edition_context(make_content(make_paper(**changes)))["papers"]
    assert len(papers) == 1
    result: dict[str, Any] = papers[0]
    return result


def test_daily_context() -> None:
    context = edition_context(make_content())
    assert context["cadence"] == "daily" and context["cadence_title"] == "Daily"
    assert context["period_label"] == "Today's"
    assert context["date_label"] == "Thursday, 26 November 2026"
    assert context["title"] == "Paperround daily digest, Thursday, 26 November 2026"
    assert context["preview"] == f"Daily digest, Thursday, 26 November 2026: {PAPER_COUNT} trending"
    assert context["intro"] is None
    assert context["site_name"] == "Paperround"
    assert context["base_host"] == "paperround.example"
    assert context["postal_lines"] == ["1 Example Street", "12345 Town"]
    assert context["ph"].unsubscribe_url == UNSUBSCRIBE_URL


def test_weekly_context() -> None:
    context = edition_context(make_content(cadence="weekly", intro="  Hello   readers \n "))
    assert context["period_label"] == "This week's"
    assert context["cadence_title"] == "Weekly"
    assert context["preview"].startswith("Weekly digest, ")
    assert PAPER_COUNT in context["preview"]
    assert context["intro"] == "Hello readers"


def test_papers_keep_edition_order() -> None:
    papers = [make_paper(f"arxiv:2611.0000{i}", title=f"Paper {i}") for i in (3, 1, 2)]
    context = edition_context(make_content(*papers))
    assert [p["title"] for p in context["papers"]] == ["Paper 3", "Paper 1", "Paper 2"]


def test_paper_links_and_labels() -> None:
    paper = one_paper(
        links={
            "abs": "https://arxiv.org/abs/1",
            "project": "https://project.example/",
            "code": "https://github.com/a/b",
            "html": "https://arxiv.org/html/1",
            "pdf": "https://arxiv.org/pdf/1",
            "link": "https://unused.example/",
        }
    )
    assert paper["title_url"] == "https://arxiv.org/abs/1"
    assert paper["links"] == [
        ("PDF", "https://arxiv.org/pdf/1"),
        ("HTML", "https://arxiv.org/html/1"),
        ("Code", "https://github.com/a/b"),
        ("Project", "https://project.example/"),
    ]
    assert paper["all_links"] == [("Abstract", "https://arxiv.org/abs/1"), *paper["links"]]


@pytest.mark.parametrize(
    "bad", ["javascript:alert(1)", "data:text/html,<b>x</b>", "/abs/1", "ftp://x.example/1"]
)
def test_non_http_links_yield_no_link(bad: str) -> None:
    links = {"abs": bad, "pdf": bad, "link": bad, "doi": bad, "code": "https://github.com/a/b"}
    paper = one_paper(arxiv_id=None, links=links)
    assert paper["title_url"] is None and paper["doi"] is None
    assert paper["links"] == [("Code", "https://github.com/a/b")]
    assert paper["all_links"] == [("Code", "https://github.com/a/b")]


def test_title_link_falls_back_to_html() -> None:
    paper = one_paper(links={"abs": "javascript:alert(1)", "html": "https://arxiv.org/html/1"})
    assert paper["title_url"] == "https://arxiv.org/html/1"
    assert paper["all_links"] == [("HTML", "https://arxiv.org/html/1")]


def test_no_links_at_all() -> None:
    paper = one_paper(arxiv_id=None, links={})
    assert paper["title_url"] is None and paper["links"] == [] and paper["all_links"] == []


def test_an_arxiv_paper_whose_links_are_lost_still_links_its_abstract() -> None:
    paper = one_paper(links={})
    assert paper["title_url"] == "https://arxiv.org/abs/2611.00001"
    assert paper["all_links"] == [("Abstract", "https://arxiv.org/abs/2611.00001")]


def test_a_feed_item_keyed_by_its_link_links_its_own_page_and_names_the_host() -> None:
    own = "https://lab.example.org/posts/sparse-attention?id=7"
    paper = one_paper(
        key="https://lab.example.org/posts/sparse-attention", arxiv_id=None, links={"link": own}
    )
    assert paper["title_url"] == own
    assert paper["links"] == [("lab.example.org", own)]
    assert paper["all_links"] == [("Link", own)]
    assert paper["doi"] is None


def test_a_feed_item_keyed_by_doi_links_its_page_and_shows_the_doi() -> None:
    own = "https://www.biorxiv.org/content/10.1101/2024.01.02.573001v1"
    doi_url = "https://doi.org/10.1101/2024.01.02.573001"
    paper = one_paper(
        key="doi:10.1101/2024.01.02.573001",
        arxiv_id=None,
        links={"doi": doi_url, "link": own},
    )
    assert paper["title_url"] == own
    assert paper["doi"] == "10.1101/2024.01.02.573001"
    assert paper["links"] == [
        ("www.biorxiv.org", own),
        ("DOI 10.1101/2024.01.02.573001", doi_url),
    ]
    assert paper["all_links"] == [("Link", own), ("DOI", doi_url)]


def test_a_doi_alone_is_the_title_link() -> None:
    doi_url = "https://doi.org/10.5555/ABC%2F12"
    paper = one_paper(key="doi:10.5555/abc/12", arxiv_id=None, links={"doi": doi_url})
    assert paper["title_url"] == doi_url
    assert paper["doi"] == "10.5555/ABC/12"
    assert paper["all_links"] == [("DOI", doi_url)]


@pytest.mark.parametrize(
    "not_a_doi",
    [
        "https://example.org/10.1/x",  # not a DOI resolver
        "https://doi.org/",
        "https://doi.org/11.1234/x",
        "javascript:alert(1)",
    ],
)
def test_only_a_resolver_link_to_a_doi_shows_a_doi(not_a_doi: str) -> None:
    paper = one_paper(links={"abs": "https://arxiv.org/abs/1", "doi": not_a_doi})
    assert paper["doi"] is None
    assert all(not label.startswith("DOI") for label, _ in paper["links"])


def test_an_arxiv_paper_with_a_journal_doi_shows_both() -> None:
    paper = one_paper(
        links={"abs": "https://arxiv.org/abs/1", "doi": "https://doi.org/10.1103/PhysRevD.1.1"}
    )
    assert paper["title_url"] == "https://arxiv.org/abs/1"
    assert paper["links"] == [("DOI 10.1103/PhysRevD.1.1", "https://doi.org/10.1103/PhysRevD.1.1")]
    assert paper["all_links"][0] == ("Abstract", "https://arxiv.org/abs/1")


def test_tex_is_shown_as_unicode_on_the_card_and_kept_in_the_paper() -> None:
    title = r"$\alpha$-Stable Schr\"odinger Bridges in $O(n^{2})$"
    source = make_paper(
        title=title,
        abstract=r"We bound the error by $\epsilon \leq 10^{-3}$ for $\mathbf{x}_i$.",
        summary=r"$\beta$-VAEs, faster",
        authors=(r"Paul Erd\H{o}s",),
    )
    paper = edition_context(make_content(source))["papers"][0]
    assert paper["title"] == "\u03b1-Stable Schrödinger Bridges in O(n²)"
    assert paper["abstract"] == "We bound the error by ϵ ≤ 10⁻³ for xᵢ."
    assert paper["tldr"] == "β-VAEs, faster"
    assert paper["authors"] == "Paul Erdős"
    assert paper["thumbnail_alt"] == "Figure: \u03b1-Stable Schrödinger Bridges in O(n²)"
    assert source.title == title  # the paper (and so the store) keeps the TeX


@pytest.mark.parametrize(
    ("upvotes", "label", "meta"),
    [
        (0, "0 upvotes", "cs.CL"),
        (1, "1 upvote", "1 upvote - cs.CL"),
        (2, "2 upvotes", "2 upvotes - cs.CL"),
        (1000, "1000 upvotes", "1000 upvotes - cs.CL"),
    ],
)
def test_upvote_label_singular_and_plural(upvotes: int, label: str, meta: str) -> None:
    paper = one_paper(upvotes=upvotes)
    assert paper["upvotes"] == upvotes
    assert paper["upvotes_label"] == label
    assert paper["meta"] == meta


def test_meta_without_upvotes_or_categories_is_empty() -> None:
    assert one_paper(upvotes=0, categories=())["meta"] == ""
    assert one_paper(upvotes=4, categories=())["meta"] == "4 upvotes"


def test_categories_are_capped() -> None:
    categories = tuple(f"cs.C{i}" for i in range(MAX_CATEGORIES_SHOWN + 3))
    paper = one_paper(categories=categories)
    assert paper["categories"] == ", ".join(categories[:MAX_CATEGORIES_SHOWN])
    assert f"cs.C{MAX_CATEGORIES_SHOWN}" not in paper["categories"]


def test_paper_text_is_shaped() -> None:
    paper = one_paper(
        title="A   title\nover lines " + "word " * 100,
        authors=tuple(f"Author {i}" for i in range(9)),
        abstract="An abstract " * 100,
        thumbnail="javascript:alert(1)",
    )
    assert len(paper["title"]) <= TITLE_LIMIT and paper["title"].endswith(ELLIPSIS)
    assert paper["title"].startswith("A title over lines word")
    assert paper["authors"] == "Author 0, Author 1, Author 2 et al."
    assert 350 <= len(paper["abstract"]) <= 420 and paper["abstract"].endswith(ELLIPSIS)
    assert paper["thumbnail"] is None
    assert paper["thumbnail_alt"].startswith("Figure: A title over lines")
    assert len(paper["thumbnail_alt"]) <= len("Figure: ") + 60


def test_no_placeholder_lookalike_survives_in_the_context() -> None:
    hostile = f"Click {UNSUBSCRIBE_URL} or {PAPER_COUNT}"
    content = make_content(
        make_paper(
            title=hostile,
            authors=(hostile,),
            abstract=hostile,
            categories=(hostile,),
            links={"abs": f"https://evil.example/{UNSUBSCRIBE_URL}"},
            thumbnail=f"https://evil.example/{PREFIX}.png",
        ),
        site_name=f"Site {PREFIX}",
        postal_address=f"Street {PREFIX}\nTown",
        intro=hostile,
    )
    context = edition_context(content)
    paper = context["papers"][0]
    texts = [
        context["site_name"],
        context["intro"],
        *context["postal_lines"],
        paper["title"],
        paper["authors"],
        paper["abstract"],
        paper["categories"],
        paper["meta"],
        paper["title_url"],
        paper["thumbnail"],
        paper["thumbnail_alt"],
        *(url for _, url in paper["all_links"]),
    ]
    assert all(PREFIX not in text for text in texts), texts
    assert paper["title_url"] == "https://evil.example/PR%78UNSUBSCRIBExURL"
    # the template's own count placeholder stays: it is ours
    assert PAPER_COUNT in context["preview"]


def test_site_context_for_the_confirmation_mail() -> None:
    context = site_context("Paper\nround", "https://paperround.example:8443/x", "A\r\n  \r\nB")
    assert context["site_name"] == "Paper round"
    assert context["base_host"] == "paperround.example"
    assert context["postal_lines"] == ["A", "B"]


# --- clean_text, trim_abstract ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  a \t b\n\nc  ", "a b c"),
        ("a\u00a0\u2028b", "a b"),
        ("", ""),
        ("   ", ""),
        ("exactly twenty chars", "exactly twenty chars"),
    ],
)
def test_clean_text_collapses_whitespace(text: str, expected: str) -> None:
    assert clean_text(text, 20) == expected


def test_clean_text_cuts_at_a_word_boundary_with_an_ellipsis() -> None:
    assert clean_text("alpha beta gamma delta epsilon", 20) == "alpha beta gamma" + ELLIPSIS
    # punctuation before the cut is dropped
    assert clean_text("alpha beta gamma, delta epsilon", 20) == "alpha beta gamma" + ELLIPSIS
    # no space late enough: cut inside the word, still within the limit
    cut = clean_text("a " + "x" * 40, 20)
    assert cut == "a " + "x" * 17 + ELLIPSIS and len(cut) == 20


@pytest.mark.parametrize("limit", [10, 40, 100, 300])
def test_clean_text_never_exceeds_the_limit(limit: int) -> None:
    text = " ".join(f"w{i}" * (i % 7 + 1) for i in range(200))
    result = clean_text(text, limit)
    assert len(result) <= limit and result.endswith(ELLIPSIS)
    assert text.startswith(result[:-1].rstrip())


@pytest.mark.parametrize(
    "text",
    [
        PREFIX,
        UNSUBSCRIBE_URL,
        f"see {PAPER_COUNT} now",
        f"{PREFIX}{PREFIX}x",
        "PRPRxx",
        f"long {'word ' * 30}{UNSUBSCRIBE_URL}",
    ],
)
def test_clean_text_neutralizes_placeholder_lookalikes(text: str) -> None:
    for limit in (500, 40):
        result = clean_text(text, limit)
        assert PREFIX not in result
    assert PREFIX not in trim_abstract(text)
    assert "PR\u200bx" in clean_text(text, 500)


def test_neutralize_breaks_mjml_font_trigger() -> None:
    result = neutralize_tokens('"font-family : Roboto" and FONT-FAMILY:x')
    assert "font-family :" not in result.lower() and "font-family:" not in result.lower()
    assert result.replace("\u200b", "") == '"font-family : Roboto" and FONT-FAMILY:x'


def test_trim_abstract_keeps_short_abstracts_whole() -> None:
    assert trim_abstract("  A short\n abstract.  ") == "A short abstract."
    long = "representation learning " * 40
    trimmed = trim_abstract(long)
    assert 350 <= len(trimmed) <= 420
    assert trimmed.endswith(ELLIPSIS) and long.startswith(trimmed[:-1])


# --- safe_url --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "good",
    [
        "https://arxiv.org/abs/2611.00001",
        "http://example.org/",
        "HTTPS://Example.org/a?b=c&d=e#f",
        "https://example.org:8443/a%20b",
        "https://[2001:db8::1]/x",
        "https://example.org/" + "a" * (URL_LIMIT - len("https://example.org/")),
    ],
)
def test_safe_url_keeps_plain_http_urls(good: str) -> None:
    assert safe_url(good) == good


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html;base64,PGI+",
        "ftp://example.org/x",
        "mailto:a@example.org",
        "//example.org/x",
        "/relative/path",
        "https://",
        "https:///path-only",
        "https://example.org/a b",
        "https://example.org/a\tb",
        "https://example.org/a\nb",
        "https://example.org/a\x00b",
        "https://example.org/a\x1bb",
        "https://example.org/a\x7fb",
        "https://example.org/a\x85b",
        "https://example.org/a\x9bb",
        "https://example.org/a\u2028b",
        'https://example.org/a"onmouseover="x',
        "https://example.org/a'b",
        "https://example.org/<script>",
        "https://example.org/a`b",
        "https://example.org/a\\b",
        "https://example.org/{x}",
        "https://[::1/x",
        "https://example.org/" + "a" * (URL_LIMIT - len("https://example.org/") + 1),
    ],
)
def test_safe_url_refuses_unsafe_urls(bad: str | None) -> None:
    assert safe_url(bad) is None


def test_safe_url_percent_encodes_the_placeholder_prefix() -> None:
    url = f"https://example.org/{UNSUBSCRIBE_URL}?next={PREFIX}y"
    assert safe_url(url) == "https://example.org/PR%78UNSUBSCRIBExURL?next=PR%78y"
    assert PREFIX not in (safe_url(url) or "")


# --- shorten_authors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authors", "expected"),
    [
        ((), ""),
        (("Ann",), "Ann"),
        (("Ann", "Bob", "Cy"), "Ann, Bob, Cy"),
        (("Ann", "Bob", "Cy", "Di"), "Ann, Bob, Cy, Di"),
        (("Ann", "Bob", "Cy", "Di", "Ed"), "Ann, Bob, Cy et al."),
        (tuple(f"A{i}" for i in range(50)), "A0, A1, A2 et al."),
        (("Ann", "", "  ", "Bob"), "Ann, Bob"),
        (("Ann", "", "Bob", " ", "Cy", "Di"), "Ann, Bob, Cy, Di"),  # blanks do not count
        ((" Ann \n Lee ",), "Ann Lee"),
    ],
)
def test_shorten_authors(authors: tuple[str, ...], expected: str) -> None:
    assert shorten_authors(authors) == expected


def test_each_author_name_is_bounded() -> None:
    name = "Verylongname " * 20
    result = shorten_authors((name, "Bob"))
    first, second = result.rsplit(", ", 1)
    assert len(first) <= AUTHOR_NAME_LIMIT and first.endswith(ELLIPSIS)
    assert second == "Bob"
