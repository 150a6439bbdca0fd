"""The `paperround` command line, run in-process with click's CliRunner against real stores.

Settings reach the CLI the way they do in production: PAPERROUND_* environment variables.
Feeds come from the loopback FeedServer, so `ingest` runs the real fetch/parse/store path.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import Result

from tests.conftest import FIXTURES
from tests.support import FeedServer, unused_port
from tests.workers.cli.conftest import Paperround, _env
from workers.cli import cli

FEEDS = FIXTURES / "feeds"
GOOD_FEEDS = {
    "arxiv-rss": ("arxiv_rss.xml", "application/rss+xml"),
    "arxiv-atom": ("arxiv_atom.xml", "application/atom+xml"),
    "hf-daily": ("hf_daily.json", "application/json"),
    "generic": ("generic_atom.xml", "application/atom+xml"),
}
PAPER_FIELDS = {"arxiv_id", "title", "authors", "abstract", "upvotes", "score", "links"}


def _one_error_line(result: Result) -> str:
    """The error output must be exactly one line starting with `Error:`; returns it."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    assert "Traceback" not in result.output
    return lines[0]


def _sources(run: Paperround) -> list[dict[str, object]]:
    result = run("sources", "list", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    return data


# --- init ---------------------------------------------------------------------------------


def test_init_twice_is_idempotent_and_seeds_defaults_once(paperround: Paperround) -> None:
    first = paperround("init")
    assert first.exit_code == 0, first.output
    assert "store ready" in first.stdout
    added = [line for line in first.stdout.splitlines() if line.startswith("added default source")]
    assert len(added) == 3  # config/defaults.toml names three

    second = paperround("init")
    assert second.exit_code == 0, second.output
    assert "added default source" not in second.stdout
    names = [s["name"] for s in _sources(paperround)]
    assert names == ["arxiv-cs-ai", "arxiv-cs-lg", "hf-daily"]


def test_init_creates_the_sqlite_file_and_its_folder(
    fresh_sqlite: Paperround, tmp_path: Path
) -> None:
    result = fresh_sqlite("init")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "new" / "paperround.db").is_file()
    assert fresh_sqlite("init").exit_code == 0


def test_defaults_are_not_reseeded_after_the_admin_removed_some(paperround: Paperround) -> None:
    paperround("init")
    for name in ("arxiv-cs-ai", "arxiv-cs-lg"):
        assert paperround("sources", "remove", name).exit_code == 0
    paperround("init")
    assert [s["name"] for s in _sources(paperround)] == ["hf-daily"]


# --- sources ------------------------------------------------------------------------------


def test_sources_add_list_remove(paperround: Paperround) -> None:
    added = paperround(
        "sources", "add", "cs-cl", "https://rss.arxiv.org/rss/cs.CL", "--kind", "arxiv-rss"
    )
    assert added.exit_code == 0, added.output
    assert "added source cs-cl (arxiv-rss)" in added.stdout
    assert paperround("sources", "add", "auto-one", "http://example.org/feed").exit_code == 0

    rows = _sources(paperround)
    assert [r["name"] for r in rows] == ["auto-one", "cs-cl"]
    expected_keys = {
        "name", "kind", "url", "enabled", "interval_minutes", "last_status", "last_error",
        "last_fetched_at", "last_ok_at", "last_counts", "failures", "next_fetch_at", "options",
    }  # fmt: skip
    for row in rows:
        assert set(row) == expected_keys
        assert row["enabled"] is True
        assert row["last_status"] is None and row["last_fetched_at"] is None
    assert rows[0]["kind"] == "auto"  # detected at the first fetch
    assert rows[1] == {**rows[1], "kind": "arxiv-rss", "url": "https://rss.arxiv.org/rss/cs.CL"}
    assert rows[1]["failures"] == 0 and rows[1]["next_fetch_at"] is None
    assert rows[1]["options"] == {}

    removed = paperround("sources", "remove", "cs-cl")
    assert removed.exit_code == 0 and "removed source cs-cl" in removed.stdout
    assert [r["name"] for r in _sources(paperround)] == ["auto-one"]

    human = paperround("sources", "list")
    assert human.exit_code == 0
    assert "auto-one" in human.stdout and "not fetched" in human.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["bad name!", "https://example.org/feed"], "source name"),
        (["ok", "file:///etc/passwd"], "http:// or https://"),
        (["ok", "ftp://example.org/feed"], "http:// or https://"),
        (["ok", "not a url"], "http:// or https://"),
        (["ok", "https://"], "http:// or https://"),
    ],
)
def test_sources_add_refuses_bad_input_in_one_line(
    paperround: Paperround, args: list[str], needle: str
) -> None:
    result = paperround("sources", "add", *args)
    assert result.exit_code == 1
    assert needle in _one_error_line(result)
    assert _sources(paperround) == []  # nothing half-added


def test_sources_add_refuses_an_unknown_kind(paperround: Paperround) -> None:
    result = paperround("sources", "add", "x", "https://example.org/feed", "--kind", "nope")
    assert result.exit_code == 2  # click's usage error: the Error line names value and choices
    error = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error) == 1
    assert "'nope'" in error[0] and "arxiv-rss" in error[0]
    assert _sources(paperround) == []


def test_sources_add_refuses_a_duplicate_name(paperround: Paperround) -> None:
    assert paperround("sources", "add", "dup", "https://example.org/a").exit_code == 0
    result = paperround("sources", "add", "dup", "https://example.org/b")
    assert result.exit_code == 1
    assert "'dup' exists already" in _one_error_line(result)
    rows = _sources(paperround)
    assert [(r["name"], r["url"]) for r in rows] == [("dup", "https://example.org/a")]


def test_sources_remove_unknown_name(paperround: Paperround) -> None:
    result = paperround("sources", "remove", "ghost")
    assert result.exit_code == 1
    assert "no source named 'ghost'" in _one_error_line(result)


# --- ingest -------------------------------------------------------------------------------


def _serve_all(run: Paperround, server: FeedServer, *, bad: bool) -> None:
    for name, (fixture, ctype) in GOOD_FEEDS.items():
        server.serve_file("/" + fixture, FEEDS / fixture, content_type=ctype)
        assert run("sources", "add", name, server.url("/" + fixture)).exit_code == 0
    if bad:
        server.serve_file("/bad.xml", FEEDS / "malformed.xml", content_type="application/rss+xml")
        assert run("sources", "add", "broken", server.url("/bad.xml")).exit_code == 0


def _summary(result: Result) -> dict[str, str]:
    """Source name -> the rest of its summary line."""
    lines = {}
    for line in result.stdout.splitlines():
        name, _, rest = line.partition(" ")
        if name in {*GOOD_FEEDS, "broken", "gone"}:
            lines[name] = rest.strip()
    return lines


def test_ingest_summarizes_each_source_and_fails_when_one_failed(
    paperround: Paperround, feed_server: FeedServer
) -> None:
    _serve_all(paperround, feed_server, bad=True)
    result = paperround("ingest")
    assert result.exit_code == 1, result.output  # one source failed...
    summary = _summary(result)
    assert set(summary) == {*GOOD_FEEDS, "broken"}  # ...and the others still ingested
    for name in GOOD_FEEDS:
        assert summary[name].startswith("ok"), summary[name]
        assert re.fullmatch(
            r"ok +\d+ new, \d+ updated, \d+ unchanged(, \d+ skipped)?", summary[name]
        )
    assert summary["broken"].startswith("FAILED") and "malformed XML" in summary["broken"]
    total = [line for line in result.stdout.splitlines() if line.startswith("total:")]
    assert len(total) == 1 and total[0].endswith("1 failed source(s)")

    listed = {r["name"]: r for r in _sources(paperround)}
    assert listed["broken"]["last_status"] == "failed"
    assert "malformed XML" in str(listed["broken"]["last_error"])
    assert listed["hf-daily"]["kind"] == "hf-daily"  # detected and remembered
    human = paperround("sources", "list").stdout
    assert "error: " in human and "malformed XML" in human


def test_ingest_named_sources_twice_exits_0_and_adds_nothing(
    paperround: Paperround, feed_server: FeedServer
) -> None:
    _serve_all(paperround, feed_server, bad=True)
    names = list(GOOD_FEEDS)
    first = paperround("ingest", *names, "--json")
    assert first.exit_code == 0, first.output
    outcomes = json.loads(first.stdout)
    assert [o["name"] for o in outcomes] == names  # the failing source was not asked for
    assert all(o["status"] == "ok" and o["error"] is None for o in outcomes)
    new = sum(o["new"] for o in outcomes)
    assert new > 0

    again = json.loads(paperround("ingest", *names, "--json").stdout)
    assert sum(o["new"] for o in again) == 0
    seen = sum(o["new"] + o["updated"] + o["unchanged"] for o in outcomes)
    assert sum(o["unchanged"] for o in again) == seen

    human = paperround("ingest", *names)
    assert human.exit_code == 0
    for rest in _summary(human).values():
        assert rest.startswith("ok") and "0 new, 0 updated" in rest


def test_ingest_unknown_source_name(paperround: Paperround) -> None:
    result = paperround("ingest", "ghost")
    assert result.exit_code == 1
    assert "unknown source(s): ghost" in _one_error_line(result)


def test_ingest_unreachable_source_is_one_failure_line(paperround: Paperround) -> None:
    paperround("sources", "add", "gone", f"http://127.0.0.1:{unused_port()}/feed")
    result = paperround("ingest")
    assert result.exit_code == 1
    assert "cannot connect" in _summary(result)["gone"]


# --- papers -------------------------------------------------------------------------------


def test_papers_list_json_is_ranked_and_complete(
    paperround: Paperround, feed_server: FeedServer
) -> None:
    _serve_all(paperround, feed_server, bad=False)
    assert paperround("ingest").exit_code == 0

    everything = json.loads(paperround("papers", "list", "--top", "1000", "--json").stdout)
    assert len(everything) > 3
    for paper in everything:
        assert set(paper) >= PAPER_FIELDS
        assert isinstance(paper["authors"], list) and isinstance(paper["links"], dict)
        assert isinstance(paper["upvotes"], int) and isinstance(paper["score"], float)
        assert "\n" not in paper["title"]
    scores = [p["score"] for p in everything]
    assert scores == sorted(scores, reverse=True)
    arxiv_ids = [p["arxiv_id"] for p in everything if p["arxiv_id"]]
    assert len(arxiv_ids) == len(set(arxiv_ids))  # one paper per arXiv id across four sources
    assert everything[0]["upvotes"] == max(p["upvotes"] for p in everything)

    top2 = json.loads(paperround("papers", "list", "--top", "2", "--json").stdout)
    assert [p["key"] for p in top2] == [p["key"] for p in everything[:2]]

    today = datetime.now(UTC).date()
    since_today = paperround("papers", "list", "--since", today.isoformat(), "--json")
    # --since is by listing: replacements of papers no source listed are nobody's news
    listed = [p for p in everything if p["listed_at"] is not None]
    assert 0 < len(listed) < len(everything)
    assert len(json.loads(since_today.stdout)) == min(len(listed), 20)  # default --top 20
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert json.loads(paperround("papers", "list", "--since", tomorrow, "--json").stdout) == []

    human = paperround("papers", "list", "--top", "3")
    assert human.exit_code == 0
    assert human.stdout.lstrip().startswith("1. " + everything[0]["title"])


def test_papers_list_on_an_empty_store(paperround: Paperround) -> None:
    assert json.loads(paperround("papers", "list", "--json").stdout) == []
    assert "no papers yet" in paperround("papers", "list").stdout


@pytest.mark.parametrize("args", [["--top", "0"], ["--since", "yesterday"], ["--top", "x"]])
def test_papers_list_bad_options_are_usage_errors(paperround: Paperround, args: list[str]) -> None:
    result = paperround("papers", "list", *args)
    assert result.exit_code == 2
    assert sum(line.startswith("Error:") for line in result.stderr.splitlines()) == 1


# --- settings and the database ------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "setting"),
    [
        ("PAPERROUND_READ_TIMEOUT", "abc", "read_timeout"),
        ("PAPERROUND_CONNECT_TIMEOUT", "-1", "connect_timeout"),
        ("PAPERROUND_MAX_FEED_BYTES", "lots", "max_feed_bytes"),
        ("PAPERROUND_DATABASE_URL", "not a url", "database_url"),
    ],
)
@pytest.mark.parametrize("command", [["init"], ["sources", "list"], ["ingest"], ["papers", "list"]])
def test_invalid_setting_is_one_line_naming_it(
    tmp_path: Path, command: list[str], variable: str, value: str, setting: str
) -> None:
    run = Paperround(_env(tmp_path, f"sqlite:///{tmp_path / 'p.db'}"))
    result = run(*command, **{variable: value})
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert f"invalid setting {setting}" in line and variable in line
    assert not (tmp_path / "p.db").exists()  # refused before touching anything


def test_a_broken_config_file_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "paperround.toml"
    config.write_text("read_timeout = [\n", encoding="utf-8")
    run = Paperround(_env(tmp_path, f"sqlite:///{tmp_path / 'p.db'}"))
    result = run("init", PAPERROUND_CONFIG=str(config))
    assert result.exit_code == 1
    assert "not valid TOML" in _one_error_line(result)


def test_unreachable_postgresql_is_one_clear_line(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{unused_port()}/paperround"
    run = Paperround(_env(tmp_path, url))
    for command in (["init"], ["sources", "list"], ["papers", "list"]):
        result = run(*command)
        assert result.exit_code == 1
        line = _one_error_line(result)
        assert line.startswith("Error: database unavailable:") and "PAPERROUND_DATABASE_URL" in line
        assert "refused" in line.lower()


def test_unopenable_sqlite_file_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    run = Paperround(_env(tmp_path, f"sqlite:///{blocker / 'paperround.db'}"))
    result = run("init")
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert str(blocker) in line and "File exists" in line


def test_store_without_schema_says_to_run_init(fresh_sqlite: Paperround) -> None:
    result = fresh_sqlite("sources", "list")
    assert result.exit_code == 1
    assert "paperround init" in _one_error_line(result)


# --- help ---------------------------------------------------------------------------------


def _all_commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, group
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _all_commands(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = list(_all_commands(cli))


@pytest.mark.parametrize(
    ("path", "command"), COMMANDS, ids=[" ".join(p) or "paperround" for p, _ in COMMANDS]
)
def test_every_command_and_group_has_help(
    tmp_path: Path, path: tuple[str, ...], command: click.Command
) -> None:
    assert (command.help or "").strip(), f"`paperround {' '.join(path)}` has no docstring"
    run = Paperround(_env(tmp_path, f"sqlite:///{tmp_path / 'p.db'}"))
    result = run(*path, "--help")
    assert result.exit_code == 0, result.output
    first_words = " ".join((command.help or "").split()[:6])
    assert first_words in " ".join(result.stdout.split())
    assert result.stdout.startswith(f"Usage: paperround {' '.join(path)}".rstrip())
    assert not (tmp_path / "p.db").exists()  # --help touches no store


def test_the_issue_2_commands_are_all_there() -> None:
    paths = {" ".join(p) for p, _ in COMMANDS}
    expected = {"init", "sources add", "sources list", "sources remove", "ingest", "papers list"}
    assert expected <= paths


@pytest.fixture
def no_such_host(monkeypatch: pytest.MonkeyPatch) -> str:
    """Stands in for the system resolver answering NXDOMAIN, as on a machine without DNS.

    Tests send no DNS queries; names under .invalid never resolve anyway (RFC 6761 6.4).
    """
    real = socket.getaddrinfo

    def getaddrinfo(host: object, *args: object, **kw: object) -> object:
        if isinstance(host, str | bytes) and str(host).rstrip(".").endswith("invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return "feeds.example.invalid"


def test_unresolvable_host_fails_fast_without_retries(
    paperround: Paperround, no_such_host: str, feed_server: FeedServer
) -> None:
    fixture, ctype = GOOD_FEEDS["arxiv-rss"]
    feed_server.serve_file("/" + fixture, FEEDS / fixture, content_type=ctype)
    paperround("sources", "add", "nowhere", f"https://{no_such_host}/rss")
    paperround("sources", "add", "here", feed_server.url("/" + fixture))
    started = time.monotonic()
    result = paperround("ingest", PAPERROUND_MAX_RETRIES="2")  # the default: still no retry
    assert time.monotonic() - started < 5  # two backoffs alone would take 1.5 s more per source
    assert result.exit_code == 1
    summary = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert f"cannot resolve host '{no_such_host}': Name or service not known" in summary["nowhere"]
    assert "retries" not in summary["nowhere"]
    assert " ok " in summary["here"]  # the other source is not held up
