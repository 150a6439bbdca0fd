"""The docs say what the code does: tables in docs/ that mirror a table in the code."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.ingest.formats import FORMATS
from pipeline.ingest.identifiers import AGGREGATORS, Aggregator

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize("site", AGGREGATORS, ids=lambda site: site.site)
def test_every_known_aggregator_is_documented(site: Aggregator) -> None:
    rows = [line for line in (DOCS / "sources.md").read_text().splitlines() if line.startswith("|")]
    assert f"| {site.site} | `{site.example}` |" in rows


def test_the_docs_list_no_aggregator_the_code_does_not_know() -> None:
    text = (DOCS / "sources.md").read_text()
    table = text.split("### Sites that show arXiv papers", 1)[1].split("\n\n", 2)[1]
    documented = {
        row.split("|")[1].strip() for row in table.splitlines()[2:] if row.startswith("|")
    }
    assert documented == {site.site for site in AGGREGATORS}


def test_every_format_is_documented() -> None:
    text = (DOCS / "sources.md").read_text()
    for kind in FORMATS:
        assert f"| `{kind}`" in text
