"""Every spelling of a paper's identity that real feeds use, and the look-alikes that are not."""

from __future__ import annotations

import pytest

from pipeline.ingest.identifiers import (
    AGGREGATORS,
    RdfTitle,
    arxiv_id_by_pattern,
    compile_id_pattern,
    parse_arxiv_id,
    parse_doi,
    split_doi_version,
    split_rdf_title,
)

NEW = ("2401.01234", None)
NEW_V2 = ("2401.01234", 2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # hosts and mirrors
        ("https://arxiv.org/abs/2401.01234", NEW),
        ("http://www.arxiv.org/abs/2401.01234v2", NEW_V2),
        ("https://export.arxiv.org/abs/2401.01234", NEW),
        ("http://lanl.arxiv.org/abs/2401.01234v2", NEW_V2),
        ("https://de.arxiv.org/pdf/2401.01234v2.pdf", NEW_V2),
        ("http://xxx.lanl.gov/abs/hep-th/9901001", ("hep-th/9901001", None)),
        ("https://ar5iv.labs.arxiv.org/html/2401.01234", NEW),
        ("https://ar5iv.org/abs/2401.01234v2", NEW_V2),
        ("arxiv.org/abs/2401.01234", NEW),
        # paths
        ("https://arxiv.org/pdf/2401.01234", NEW),
        ("https://arxiv.org/pdf/2401.01234v2.pdf", NEW_V2),
        ("https://arxiv.org/html/2401.01234v2/", NEW_V2),
        ("https://arxiv.org/html/2401.01234v2#S3", NEW_V2),
        ("https://arxiv.org/format/2401.01234", NEW),
        ("https://arxiv.org/ps/2401.01234v2", NEW_V2),
        ("https://arxiv.org/e-print/2401.01234", NEW),
        ("https://arxiv.org/abs/2401.01234?context=cs.LG", NEW),
        ("http://export.arxiv.org/api/query?id_list=2401.01234v2", NEW_V2),
        # prefixes and DOIs
        ("arXiv:2401.01234v2", NEW_V2),
        ("arXiv: 2401.01234", NEW),
        ("oai:arXiv.org:2401.01234v2", NEW_V2),
        ("10.48550/arXiv.2401.01234", NEW),
        ("doi:10.48550/ARXIV.2401.01234", NEW),
        ("https://doi.org/10.48550/arXiv.2401.01234", NEW),
        ("https://dx.doi.org/10.48550/arxiv.hep-th/9901001", ("hep-th/9901001", None)),
        # old style, every spelling
        ("hep-th/9901001", ("hep-th/9901001", None)),
        ("HEP-TH/9901001v3", ("hep-th/9901001", 3)),
        ("math.GT/0309136", ("math/0309136", None)),
        ("cond-mat.stat-mech/0601001v2", ("cond-mat/0601001", 2)),
        ("arXiv:math/0309136", ("math/0309136", None)),
        ("hep-th9901001", ("hep-th/9901001", None)),
        ("q-bio/0401001", ("q-bio/0401001", None)),
        # aggregators
        ("https://huggingface.co/papers/2401.01234", NEW),
        ("https://www.alphaxiv.org/abs/2401.01234v2", NEW_V2),
        ("https://www.alphaxiv.org/overview/2401.01234", NEW),
        ("https://arxiv-sanity-lite.com/?rank=pid&pid=2401.01234", NEW),
        ("https://www.emergentmind.com/papers/2401.01234", NEW),
        ("https://papers.cool/arxiv/2401.01234", NEW),
        ("https://scirate.com/arxiv/2401.01234", NEW),
        ("https://www.semanticscholar.org/arxiv/2401.01234", NEW),
        ("https://paperswithcode.com/arxiv/2401.01234", NEW),
    ],
)
def test_every_spelling_is_recognized(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_arxiv_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "https://arxiv.org.evil.example/abs/2401.01234",
        "https://notarxiv.org/abs/2401.01234",
        "https://huggingface.co/datasets/2401.01234",
        "https://arxiv.org/list/cs.LG/recent",
        "https://doi.org/10.1000/2401.01234",
        "10.1145/2401.01234",
        "https://example.org/papers/2401.01234",  # an unknown site: only a source's pattern
    ],
)
def test_look_alikes_are_not_arxiv_ids(text: str) -> None:
    assert parse_arxiv_id(text) is None


@pytest.mark.parametrize("site", AGGREGATORS, ids=lambda site: site.site)
def test_every_aggregator_in_the_table_is_recognized(site: object) -> None:
    assert parse_arxiv_id(site.example) == NEW  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        (
            "Random walks on graphs. (arXiv:1209.2411v1 [math.PR])",
            RdfTitle("Random walks on graphs", "1209.2411v1", "math.PR", "new"),
        ),
        (
            "A title (with parentheses). (arXiv:1209.2411v3 [math.PR] UPDATED)",
            RdfTitle("A title (with parentheses)", "1209.2411v3", "math.PR", "replace"),
        ),
        (
            "Old style. (arXiv:hep-th/9901001v2 [hep-th] CROSS LISTED)",
            RdfTitle("Old style", "hep-th/9901001v2", "hep-th", "cross"),
        ),
        ("No suffix here", RdfTitle("No suffix here", None, None, None)),
    ],
)
def test_older_rss_titles_give_up_their_id(title: str, expected: RdfTitle) -> None:
    assert split_rdf_title(title) == expected


@pytest.mark.parametrize(
    ("doi", "folded"),
    [
        ("10.26434/chemrxiv-2024-abcde-v2", ("10.26434/chemrxiv-2024-abcde", 2)),
        ("10.21203/rs.3.rs-123456/v1", ("10.21203/rs.3.rs-123456", 1)),
        ("10.20944/preprints202401.0001.v3", ("10.20944/preprints202401.0001", 3)),
        ("10.1101/2024.01.01.123456v2", ("10.1101/2024.01.01.123456", 2)),
        ("10.1101/2024.01.01.123456", ("10.1101/2024.01.01.123456", None)),
        ("10.1101/845123v4", ("10.1101/845123", 4)),  # a bioRxiv DOI from before 2019-12
        ("10.26434/chemrxiv.11447775.v1", ("10.26434/chemrxiv.11447775", 1)),  # figshare era
        ("10.31219/osf.io/4znzp_v2", ("10.31219/osf.io/4znzp", 2)),
        # a code that itself ends in "v" and a digit is no version without its separator
        ("10.26434/chemrxiv-2024-kq3v2", ("10.26434/chemrxiv-2024-kq3v2", None)),
        ("10.26434/chemrxiv-2024-kq3v2-v1", ("10.26434/chemrxiv-2024-kq3v2", 1)),
        ("10.31219/osf.io/abcv2", ("10.31219/osf.io/abcv2", None)),
        ("10.1038/s41586-024-07000-v", ("10.1038/s41586-024-07000-v", None)),  # not a preprint
        ("10.1145/3580305.3599221", ("10.1145/3580305.3599221", None)),
    ],
)
def test_preprint_dois_fold_their_versions(doi: str, folded: tuple[str, int | None]) -> None:
    assert split_doi_version(parse_doi(doi) or "") == folded


def test_a_sources_own_pattern_for_a_new_site() -> None:
    pattern = compile_id_pattern(r"paperdigest\.example/read/(?P<id>[^/?]+)")
    url = "https://paperdigest.example/read/2401.01234v2?utm=x"
    assert arxiv_id_by_pattern(pattern, url) == NEW_V2
    assert arxiv_id_by_pattern(pattern, "https://paperdigest.example/about") is None
    with pytest.raises(ValueError, match="group named id"):
        compile_id_pattern(r"example\.org/(\d+)")
    with pytest.raises(ValueError, match="not a regular expression"):
        compile_id_pattern(r"example\.org/(?P<id>")
