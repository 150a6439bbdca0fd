"""The `paperround subscribers|digest|resend` commands, end to end through click.

Each test points PAPERROUND_* at its own data dir (an SQLite store there) and sends with
smtp_url=capture: the command starts the real capture SMTP server on a free loopback port and
the mail lands in data_dir/mail, which the tests read back with the stdlib parser.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.store.models import Delivery, DeliveryAttempt, Segment
from tests.workers.cli.conftest import Cli


def test_add_list_remove_and_a_bad_address(run: Cli) -> None:
    run.ok("subscribers", "add", "Ada@Example.NET", "--confirmed", "--category", "cs.LG")
    run.ok("subscribers", "add", "bob@example.net", "--keyword", "diffusion")
    bad = run("subscribers", "add", "not an address")
    assert bad.exit_code == 1
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: not an address"), bad.stderr
    assert "Traceback" not in bad.output + bad.stderr
    listed = json.loads(run.ok("subscribers", "list", "--json").stdout)
    by_email = {row["email"].lower(): row for row in listed}
    assert set(by_email) == {"ada@example.net", "bob@example.net"}
    assert by_email["ada@example.net"]["status"] == "active"
    assert by_email["ada@example.net"]["categories"] == ["cs.LG"]
    assert by_email["bob@example.net"]["status"] == "pending"
    assert by_email["bob@example.net"]["keywords"] == ["diffusion"]
    run.ok("subscribers", "remove", "ADA@example.net")  # compared case-insensitively
    listed = json.loads(run.ok("subscribers", "list", "--json").stdout)
    assert [row["email"] for row in listed] == ["bob@example.net"]
    missing = run("subscribers", "remove", "ada@example.net")
    assert missing.exit_code == 1 and missing.stderr.startswith("Error: ")


def test_import_reports_bad_rows_by_line_and_export_round_trips(run: Cli, tmp_path: Path) -> None:
    csv_file = tmp_path / "readers.csv"
    csv_file.write_text(
        "email,cadence,categories,papers_per_digest\n"
        "one@example.net,daily,cs.LG cs.CL,5\n"
        "broken-address,daily,,5\n"
        "two@example.net,weekly,,7\n"
        "three@example.net,sometimes,,5\n"
        "four@example.net,daily,,many\n",
        encoding="utf-8",
    )
    result = run("subscribers", "import", str(csv_file), "--confirmed")
    assert result.exit_code == 1  # some rows were bad
    errors = [line for line in result.stderr.splitlines() if line.startswith(f"{csv_file}:")]
    assert [line.split(":")[1] for line in errors] == ["3", "5", "6"], result.stderr
    assert "2 added" in result.stdout and "3 rejected" in result.stdout
    exported = run.ok("subscribers", "export").stdout
    rows = exported.strip().splitlines()
    assert rows[0].startswith("email,")
    assert sorted(r.split(",")[0] for r in rows[1:]) == ["one@example.net", "two@example.net"]
    # the export reads back into an empty store as the same readers and preferences (after
    # an erasure only once an admin lifts its marker: a backup restore is such a decision)
    before = json.loads(run.ok("subscribers", "list", "--json").stdout)
    for row in before:
        run.ok("subscribers", "remove", row["email"])
        run.ok("suppressions", "remove", row["email"])
    back = tmp_path / "export.csv"
    back.write_text(exported, encoding="utf-8")
    again = run.ok("subscribers", "import", str(back), "--confirmed")
    assert "2 added" in again.stdout and str(back) not in again.stderr
    after = json.loads(run.ok("subscribers", "list", "--json").stdout)
    keep = (
        "email",
        "status",
        "cadence",
        "categories",
        "keywords",
        "papers_per_digest",
        "send_hour",
        "timezone",
    )
    assert [{k: r[k] for k in keep} for r in after] == [{k: r[k] for k in keep} for r in before]


def _readers(run: Cli) -> None:
    """Four readers whose send hour (00:00 UTC) has come for today's edition."""
    early = ("--confirmed", "--send-hour", "0")
    run.ok("subscribers", "add", "ada@example.net", *early, "--category", "cs.LG")
    run.ok("subscribers", "add", "bob@example.net", *early, "--keyword", "diffusion")
    run.ok("subscribers", "add", "cy@example.net", *early, "--category", "cs.LG")
    run.ok("subscribers", "add", "dee@example.net", *early, "--keyword", "zzzunmatched")


def test_plan_twice_preview_and_send_into_the_capture_maildir(run: Cli, tmp_path: Path) -> None:
    _readers(run)
    first = json.loads(run.ok("digest", "plan", "--json").stdout)
    assert first["created"] and first["deliveries"] == 3 and first["no_match"] == 1
    assert first["segments"] == 2  # ada and cy follow the same thing: one segment
    second = json.loads(run.ok("digest", "plan", "--json").stdout)
    assert second["edition_id"] == first["edition_id"]
    assert not second["created"] and second["deliveries"] == 0
    assert run.count(Delivery) == 3 and run.count(Segment) == 2

    html_file, text_file = tmp_path / "ada.html", tmp_path / "ada.txt"
    run.ok("digest", "preview", "--for", "ada@example.net", "--out", str(html_file))
    run.ok("digest", "preview", "--for", "ada@example.net", "--out", str(text_file), "--text")
    html, text = html_file.read_text(), text_file.read_text()
    assert html.startswith("<!doctype html>") and "<script" not in html.lower()
    assert "Paper number 5 on transformers" in html  # cs.LG is paper 0, 5, 10, ...
    assert "Paper number 1 on" not in html  # cs.CL: not for ada
    assert "Paper number 5 on transformers" in text and "<p" not in text
    nobody = run("digest", "preview", "--for", "dee@example.net", "--out", str(html_file))
    assert nobody.exit_code == 1 and "gets nothing" in nobody.stderr

    result = run.ok("digest", "send")
    assert "sent 3, failed 0, unknown 0, skipped 0, still waiting 0" in result.stdout
    mail = run.mail()
    assert sorted(m["X-Original-To"] for m in mail) == [
        "ada@example.net",
        "bob@example.net",
        "cy@example.net",
    ]
    for message in mail:
        assert message.get_content_type() == "multipart/alternative"
        parts = [p.get_content_type() for p in message.iter_parts()]
        assert parts == ["text/plain", "text/html"]
        plain, rich = message.get_body(("plain",)), message.get_body(("html",))
        assert plain is not None and rich is not None
        assert "Paper number" in plain.get_content() and "Paper number" in rich.get_content()
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    ada = next(m for m in mail if m["X-Original-To"] == "ada@example.net")
    ada_text = ada.get_body(("plain",))
    assert ada_text is not None
    sent_titles = [line for line in ada_text.get_content().splitlines() if "Paper number" in line]
    previewed = [line for line in text.splitlines() if "Paper number" in line]
    assert sent_titles == previewed  # the preview shows what was sent
    assert "nothing to send" in run.ok("digest", "send").stdout  # nothing is sent twice
    assert len(run.mail()) == 3


def test_resend_asks_unless_yes_and_leaves_an_audit_row(run: Cli) -> None:
    _readers(run)
    edition = json.loads(run.ok("digest", "plan", "--json").stdout)["edition_id"]
    run.ok("digest", "send")
    assert len(run.mail()) == 3

    declined = run("resend", str(edition), "--to", "ada@example.net", input="n\n")
    assert declined.exit_code == 1 and "Resend edition" in declined.output
    assert len(run.mail()) == 3
    assert run.count(DeliveryAttempt, DeliveryAttempt.kind == "resend") == 0

    run.ok("resend", str(edition), "--to", "ada@example.net", "--yes")
    assert sorted(m["X-Original-To"] for m in run.mail()).count("ada@example.net") == 2
    assert run.count(DeliveryAttempt, DeliveryAttempt.kind == "resend") == 1

    nothing = run("resend", str(edition), "--failed", "--yes")
    assert nothing.exit_code == 1 and "no matching deliveries" in nothing.stderr
    assert run.count(DeliveryAttempt, DeliveryAttempt.kind == "resend") == 1

    run.ok("resend", str(edition), "--all", "--yes")
    assert len(run.mail()) == 3 + 1 + 3
    assert run.count(DeliveryAttempt, DeliveryAttempt.kind == "resend") == 4
    assert run.count(Delivery, Delivery.status == "sent") == 3

    both = run("resend", str(edition), "--to", "ada@example.net", "--all", "--yes")
    assert both.exit_code == 2 and "exactly one" in both.stderr
    missing = run("resend", "999", "--all", "--yes")
    assert missing.exit_code == 1 and "does not exist" in missing.stderr
