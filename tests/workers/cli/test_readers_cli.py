"""Readers added by an admin get their confirmation; `subscribers update`, `confirm-again`,
paused readers, and validation that matches the sign-up form. Mail goes through the real
capture SMTP server into the data dir's Maildir (tests/workers/cli/conftest.py `run`)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from pipeline.store.models import Subscriber
from tests.support import unused_port
from tests.workers.cli.conftest import Cli

ROOT = Path(__file__).resolve().parents[3]


def _text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _mail_to(run: Cli, address: str) -> list[str]:
    return [_text(m) for m in run.mail() if m["X-Original-To"] == address]


def _one_error(result: object) -> str:
    lines = [line for line in getattr(result, "stderr", "").splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    return lines[0]


def _listed(run: Cli, *args: str) -> dict[str, dict[str, object]]:
    rows = json.loads(run.ok("subscribers", "list", "--json", *args).stdout)
    return {str(r["email"]): r for r in rows}


# --- item 4: confirmations from the admin's doors ---------------------------------------------


def test_add_without_confirmed_mails_the_confirmation_now(run: Cli) -> None:
    added = run.ok("subscribers", "add", "ann@example.org", "--category", "cs.CL")
    assert "ann@example.org: pending" in added.stdout
    assert "confirmation link mailed to ann@example.org" in added.stdout
    [mail] = _mail_to(run, "ann@example.org")
    assert re.search(r"https://papers\.example\.org/confirm/\S+", mail)
    vouched = run.ok("subscribers", "add", "bob@example.org", "--confirmed")
    assert "bob@example.org: active" in vouched.stdout and "mailed" not in vouched.stdout
    assert _mail_to(run, "bob@example.org") == []


def test_confirm_again_resends_only_to_a_pending_reader(run: Cli) -> None:
    run.ok("subscribers", "add", "ann@example.org")
    again = run.ok("subscribers", "confirm-again", "ANN@example.org")
    assert "confirmation link mailed to ann@example.org" in again.stdout
    first, second = _mail_to(run, "ann@example.org")
    assert "/confirm/" in first and "/confirm/" in second
    run.ok("subscribers", "add", "bob@example.org", "--confirmed")
    active = run("subscribers", "confirm-again", "bob@example.org")
    assert active.exit_code == 1 and "already active" in _one_error(active)
    missing = run("subscribers", "confirm-again", "nobody@example.org")
    assert missing.exit_code == 1 and "no subscriber" in _one_error(missing)
    assert _mail_to(run, "bob@example.org") == []


def test_a_reader_who_left_is_never_mailed_by_an_admin(run: Cli, tmp_path: Path) -> None:
    run.ok("subscribers", "add", "gone@example.org", "--confirmed")
    with run.sessions.begin() as session:
        session.query(Subscriber).update({"status": "unsubscribed"})
    readded = run.ok("subscribers", "add", "gone@example.org")
    assert "not mailed" in readded.stdout
    resent = run("subscribers", "confirm-again", "gone@example.org")
    assert resent.exit_code == 0  # pending again (the existing consent rule)...
    assert _mail_to(run, "gone@example.org") != []  # ...and only a deliberate resend mails
    with run.sessions.begin() as session:
        session.query(Subscriber).update({"status": "unsubscribed"})
    csv_file = tmp_path / "old-list.csv"
    csv_file.write_text("email\ngone@example.org\nnew@example.org\n", encoding="utf-8")
    before = len(_mail_to(run, "gone@example.org"))
    imported = run.ok("subscribers", "import", str(csv_file))
    assert "1 added, 1 updated" in imported.stdout
    assert "confirmation links mailed: 1 of 1" in imported.stdout
    assert len(_mail_to(run, "gone@example.org")) == before  # the old list mails nobody who left
    assert len(_mail_to(run, "new@example.org")) == 1
    assert _listed(run)["gone@example.org"]["status"] == "pending"


def test_import_without_confirmed_mails_each_new_reader_once(run: Cli, tmp_path: Path) -> None:
    rows = "".join(f"reader{i}@example.org,cs.CL;cs.LG,diffusion;graph neural\n" for i in range(25))
    csv_file = tmp_path / "readers.csv"
    csv_file.write_text("email,categories,keywords\n" + rows, encoding="utf-8")
    result = run.ok("subscribers", "import", str(csv_file))
    assert "25 added" in result.stdout and "confirmation links mailed: 25 of 25" in result.stdout
    mailed = sorted(m["X-Original-To"] for m in run.mail())
    assert mailed == sorted(f"reader{i}@example.org" for i in range(25))
    listed = _listed(run)
    assert listed["reader3@example.org"]["categories"] == ["cs.CL", "cs.LG"]
    assert listed["reader3@example.org"]["keywords"] == ["diffusion", "graph neural"]
    again = run.ok("subscribers", "import", str(csv_file))  # within 10 minutes: no new mail
    assert "25 updated" in again.stdout and len(run.mail()) == 25


# --- item 4: update, pause, paused readers -------------------------------------------------


def test_update_changes_preferences_and_pause_shows_everywhere(run: Cli) -> None:
    run.ok("subscribers", "add", "ann@example.org", "--confirmed", "--category", "cs.CL")
    changed = run.ok(
        "subscribers", "update", "ann@example.org", "--category", "cs.lg", "--category",
        "stat.ML", "--keyword", "agents", "--cadence", "weekly", "--weekly-day", "friday",
        "--send-hour", "7", "--timezone", "Europe/Berlin", "--pause",
    )  # fmt: skip
    assert "(paused)" in changed.stdout and "cs.LG stat.ML" in changed.stdout
    row = _listed(run)["ann@example.org"]
    assert (row["categories"], row["keywords"], row["cadence"]) == (
        ["cs.LG", "stat.ML"],
        ["agents"],
        "weekly",
    )
    assert (row["send_hour"], row["timezone"], row["paused"]) == (7, "Europe/Berlin", True)
    assert row["status"] == "active"  # pausing is no status change
    human = run.ok("subscribers", "list").stdout
    assert re.search(r"ann@example\.org\s+active \(paused\)", human)
    assert set(_listed(run, "--status", "paused")) == {"ann@example.org"}
    assert set(_listed(run, "--status", "PAUSED")) == {"ann@example.org"}
    run.ok("subscribers", "update", "ann@example.org", "--resume", "--category", "")
    row = _listed(run)["ann@example.org"]
    assert row["paused"] is False and row["categories"] == []
    assert _listed(run, "--status", "paused") == {}


def test_update_refuses_what_the_form_refuses_and_changes_nothing(run: Cli) -> None:
    run.ok("subscribers", "add", "ann@example.org", "--confirmed", "--category", "cs.CL")
    for args, needle in (
        (["--category", "cs.XY"], "not an arXiv category"),
        (["--papers", "0"], "papers per digest: choose 1 to"),
        (["--timezone", "Mars/Base"], "not an IANA time zone"),
    ):
        refused = run("subscribers", "update", "ann@example.org", *args)
        assert refused.exit_code == 1 and needle in _one_error(refused), args
    assert _listed(run)["ann@example.org"]["categories"] == ["cs.CL"]
    nothing = run("subscribers", "update", "ann@example.org")
    assert nothing.exit_code == 2 and "nothing to change" in nothing.stderr
    unknown = run("subscribers", "update", "nobody@example.org", "--pause")
    assert unknown.exit_code == 1 and "no subscriber" in _one_error(unknown)


# --- item 6: validation that matches the rest -----------------------------------------------


@pytest.mark.parametrize("papers", ["0", "500", "-3"])
def test_papers_out_of_range_is_refused_alike(run: Cli, papers: str) -> None:
    refused = run("subscribers", "add", "ann@example.org", "--papers", papers)
    assert refused.exit_code == 1
    assert "papers per digest: choose 1 to 20" in _one_error(refused)
    assert _listed(run) == {}


def test_categories_are_checked_against_the_arxiv_taxonomy(run: Cli, tmp_path: Path) -> None:
    refused = run("subscribers", "add", "ann@example.org", "--category", "cs.LGG")
    assert refused.exit_code == 1
    assert "'cs.LGG' is not an arXiv category like cs.CL; did you mean cs.LG" in _one_error(refused)
    run.ok("subscribers", "add", "ann@example.org", "--confirmed", "--category", "Q-BIO.nc")
    assert _listed(run)["ann@example.org"]["categories"] == ["q-bio.NC"]
    csv_file = tmp_path / "readers.csv"
    csv_file.write_text(
        "email,categories\nok@example.org,cs.CL;hep-th\nbad@example.org,cs.CL;cs.XY\n",
        encoding="utf-8",
    )
    result = run("subscribers", "import", str(csv_file), "--confirmed")
    assert result.exit_code == 1
    assert f"{csv_file}:3: categories: 'cs.XY' is not an arXiv category" in result.stderr
    assert _listed(run)["ok@example.org"]["categories"] == ["cs.CL", "hep-th"]


def test_list_status_is_validated(run: Cli) -> None:
    bad = run("subscribers", "list", "--status", "gone")
    assert bad.exit_code == 2
    [error] = [line for line in bad.stderr.splitlines() if line.startswith("Error:")]
    assert "'gone'" in error and "active" in error and "paused" in error


def test_import_help_documents_the_columns_and_the_separator(run: Cli) -> None:
    text = " ".join(run.ok("subscribers", "import", "--help").stdout.split())
    for column in ("categories", "keywords", "send_hour", "timezone", "weekly_day", "paused"):
        assert column in text
    assert 'separated by ";"' in text and "cs.CL;cs.LG" in text
    for command in ("add", "update"):
        helped = " ".join(run.ok("subscribers", command, "--help").stdout.split())
        assert helped.count("repeat for more") >= 2, command  # --category and --keyword


def test_export_writes_lists_with_semicolons_and_reads_back(run: Cli, tmp_path: Path) -> None:
    run.ok(
        "subscribers", "add", "ann@example.org", "--confirmed", "--category", "cs.CL",
        "--category", "cs.LG", "--keyword", "graph neural", "--keyword", "rag",
    )  # fmt: skip
    exported = run.ok("subscribers", "export").stdout
    assert "cs.CL;cs.LG" in exported and "graph neural;rag" in exported


# --- item 11: `subscribers export | head` ---------------------------------------------------


def test_export_into_a_closed_pipe_ends_quietly(run: Cli) -> None:
    with run.sessions.begin() as session:
        session.add_all(
            Subscriber(email=f"r{i}@example.org", email_key=f"r{i}@example.org", status="active")
            for i in range(3000)
        )  # ~150 KB of CSV: more than a pipe holds
    shell = f"{sys.executable} -m workers.cli subscribers export | head -n 2"
    done = subprocess.run(
        ["/bin/sh", "-c", shell],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **run.env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.splitlines()[0].startswith("email,status")
    assert len(done.stdout.splitlines()) == 2
    assert done.stderr == "", done.stderr  # no BrokenPipeError, no traceback


def test_a_confirmation_that_could_not_go_out_says_how_to_retry(run: Cli) -> None:
    run.env["PAPERROUND_SMTP_URL"] = f"smtp://127.0.0.1:{unused_port()}"  # nobody listens
    failed = run("subscribers", "add", "ann@example.org")
    assert failed.exit_code == 1
    assert "confirmation mail(s) not sent, the first because: " in failed.stderr
    assert "`paperround subscribers confirm-again ann@example.org` tries again" in failed.stderr
    assert _listed(run)["ann@example.org"]["status"] == "pending"  # the reader is kept
    run.env["PAPERROUND_SMTP_URL"] = "capture"
    run.ok("subscribers", "confirm-again", "ann@example.org")  # the throttle was released
    assert len(_mail_to(run, "ann@example.org")) == 1
