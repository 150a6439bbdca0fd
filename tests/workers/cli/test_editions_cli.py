"""Editions: one planned for nobody is neither in flight nor published; `digest send --edition`
of an unknown edition; `editions show` names each failure's address, lists every paper,
pluralizes; a manual send ahead of readers' send hour says so and offers --now. And every
`--json` flag is documented and prints ISO 8601 timestamps."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import click
import pytest
from sqlalchemy import update

from pipeline.store.models import Source
from pipeline.timeutil import utcnow
from tests.support.smtpserver import ScriptedSmtpServer
from tests.workers.cli.conftest import Cli
from workers.cli import cli

NOW_HOUR = ("--confirmed", "--send-hour", "0")  # 00:00 UTC: due for today's edition


def _plan(run: Cli, *args: str) -> dict[str, Any]:
    return dict(json.loads(run.ok("digest", "plan", "--json", *args).stdout))


def test_an_edition_planned_for_nobody_is_over_at_once(run: Cli) -> None:
    run.ok("subscribers", "add", "ann@example.org", *NOW_HOUR, "--keyword", "zzz-matches-nothing")
    report = _plan(run)
    assert report["deliveries"] == 0 and report["no_match"] == 1
    status = json.loads(run.ok("status", "--json").stdout)
    assert status["editions_in_flight"] == []
    assert "editions in flight: 0" in run.ok("status").stdout
    [listed] = json.loads(run.ok("editions", "list", "--json").stdout)
    assert listed["status"] == "done"
    assert "nothing to send" in run.ok("digest", "send").stdout
    # a reader who gets papers later puts it back in flight
    run.ok("subscribers", "add", "bob@example.org", *NOW_HOUR)
    assert _plan(run)["deliveries"] == 1
    [again] = json.loads(run.ok("status", "--json").stdout)["editions_in_flight"]
    assert again["id"] == report["edition_id"] and again["status"] == "planned"


def test_send_of_an_unknown_edition_exits_1_like_show(run: Cli) -> None:
    for command in (["digest", "send", "--edition", "999"], ["editions", "show", "999"]):
        result = run(*command)
        assert result.exit_code == 1, command
        assert "edition 999 does not exist; see `paperround editions list`" in result.stderr


def test_show_lists_every_paper_pluralizes_and_names_each_failure(run: Cli) -> None:
    with ScriptedSmtpServer() as smtp:
        run.env["PAPERROUND_SMTP_URL"] = smtp.url
        smtp.reply_to_rcpt("bad@example.org", "550 5.1.1 No such user here")
        run.ok("subscribers", "add", "ann@example.org", *NOW_HOUR)
        run.ok("subscribers", "add", "bad@example.org", *NOW_HOUR)
        edition = _plan(run)["edition_id"]
        sent = run("digest", "send")
        assert sent.exit_code == 1 and "sent 1, failed 1" in sent.stdout
    shown = run.ok("editions", "show", str(edition)).stdout
    assert re.search(r"^  30 papers, 1 segment$", shown, re.M), shown
    assert re.search(
        r"^  ! bad@example\.org: failed, 550 .*No such user here \(delivery \d+\)$", shown, re.M
    )
    assert "  1 failure:" in shown
    titles = [line for line in shown.splitlines() if line.startswith("  - ")]
    assert len(titles) == 10 and "... and 20 more papers (`--all` lists them)" in shown
    assert "(2411.00000, 100 upvotes)" in titles[0]
    everything = run.ok("editions", "show", str(edition), "--all").stdout
    assert len([line for line in everything.splitlines() if line.startswith("  - ")]) == 30
    assert "more paper" not in everything
    data = json.loads(run.ok("editions", "show", str(edition), "--json").stdout)
    assert len(data["papers_listed"]) == 30 and len(data["top_papers"]) == 10
    assert data["failure_count"] == 1 and data["failures"][0]["email"] == "bad@example.org"
    listed = run.ok("editions", "list").stdout
    assert "30 papers, 1 segment:" in listed


def test_a_manual_send_ahead_of_the_readers_hour_says_so_and_offers_now(run: Cli) -> None:
    # 23:00 at UTC-12 on today's (UTC) date is always still to come
    late = ("--confirmed", "--send-hour", "23", "--timezone", "Etc/GMT+12")
    run.ok("subscribers", "add", "late@example.org", *late)
    run.ok("subscribers", "add", "early@example.org", *NOW_HOUR)
    _plan(run)
    refused = run("digest", "send")
    assert refused.exit_code == 1
    [line] = [line for line in refused.stderr.splitlines() if line.startswith("Error:")]
    assert "1 reader's local send hour has not come yet (first: late@example.org at " in line
    assert "23:00 Etc/GMT+12); nothing sent. `paperround digest send --now`" in line
    assert run.mail() == []
    also = run("digest", "send", "--async")
    assert also.exit_code == 1 and "send hour has not come" in also.stderr
    sent = run.ok("digest", "send", "--now")
    assert "sent 2, failed 0" in sent.stdout
    assert sorted(m["X-Original-To"] for m in run.mail()) == [
        "early@example.org",
        "late@example.org",
    ]


def test_a_send_when_every_readers_hour_came_needs_no_flag(run: Cli) -> None:
    run.ok("subscribers", "add", "early@example.org", *NOW_HOUR)
    _plan(run, "--date", "2026-01-05")  # a past day: every hour has come
    assert "sent 1" in run.ok("digest", "send").stdout


# --- item 11: every --json flag documented, timestamps ISO 8601 everywhere -----------------


def _commands(group: click.Group) -> Iterator[click.Command]:
    for command in group.commands.values():
        if isinstance(command, click.Group):
            yield from _commands(command)
        else:
            yield command


def test_every_json_flag_has_help() -> None:
    flags = [
        (command.name, param)
        for command in _commands(cli)
        for param in command.params
        if "--json" in getattr(param, "opts", [])
    ]
    assert len(flags) >= 8
    for name, param in flags:
        assert "ISO 8601" in (getattr(param, "help", None) or ""), name


def _timestamps(value: object, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _timestamps(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _timestamps(v, key)
    elif isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}T.*", value):
        yield key, value


@pytest.fixture
def busy(run: Cli) -> Cli:
    run.ok("subscribers", "add", "ann@example.org", *NOW_HOUR)
    run.ok("suppressions", "add", "gone@example.org", "--reason", "asked")
    _plan(run)
    run.ok("digest", "send")
    with run.sessions.begin() as session:  # as after an ingestion
        session.execute(update(Source).values(last_fetched_at=utcnow(), last_ok_at=utcnow()))
    return run


@pytest.mark.parametrize(
    "command",
    [
        ["subscribers", "list"],
        ["suppressions", "list"],
        ["editions", "list"],
        ["editions", "show", "1"],
        ["status"],
        ["papers", "list"],
        ["sources", "list"],
        ["digest", "plan"],
    ],
)
def test_json_timestamps_are_iso_8601_with_their_zone(busy: Cli, command: list[str]) -> None:
    data = json.loads(busy.ok(*command, "--json").stdout)
    found = list(_timestamps(data))
    if command[0] != "digest":
        assert found, f"no timestamps in {command}"
    for key, value in found:
        parsed = datetime.fromisoformat(value)
        assert parsed.utcoffset() is not None, (command, key, value)
