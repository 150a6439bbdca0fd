"""`paperround suppressions ...`: a wrong suppression is lifted without SQL, and audited."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from pipeline.readers.suppressions import suppress, suppression_log
from pipeline.store.db import write_transaction
from pipeline.store.models import Subscriber
from pipeline.store.status import SuppressionReason
from tests.conftest import Store
from tests.workers.cli.conftest import Paperround


def test_list_add_remove_and_the_audit_trail(paperround: Paperround, store: Store) -> None:
    assert paperround("suppressions", "list").output.strip() == "no suppressed addresses"
    with write_transaction(store.sessions) as session:
        suppress(session, "gone@example.org", SuppressionReason.BOUNCED, "550 5.1.1 user unknown")
    added = paperround("suppressions", "add", "Spam.Trap@Example.org", "--reason", "a trap")
    assert added.exit_code == 0 and "suppressed spam.trap@example.org" in added.output
    again = paperround("suppressions", "add", "spam.trap@example.org", "--reason", "twice")
    assert "already suppressed" in again.output
    rows = json.loads(paperround("suppressions", "list", "--json").output)
    assert [(r["email"], r["reason"], r["detail"]) for r in rows] == [
        ("gone@example.org", "bounced", "550 5.1.1 user unknown"),
        ("spam.trap@example.org", "admin", "a trap"),
    ]
    assert all(r["created_at"].endswith("+00:00") for r in rows)  # ISO 8601, UTC
    text = paperround("suppressions", "list").output
    assert "gone@example.org" in text and "550 5.1.1" in text

    lifted = paperround("suppressions", "remove", "gone@example.org")
    assert lifted.exit_code == 0 and "lifted" in lifted.output
    missing = paperround("suppressions", "remove", "gone@example.org")
    assert missing.exit_code == 1 and "is not suppressed" in missing.stderr
    with store.sessions() as session:
        log = [(r.action, r.actor) for r in suppression_log(session, "gone@example.org")]
    assert log == [("add", "send loop"), ("remove", "cli")]


def test_adding_a_suppressed_reader_says_why_and_how_to_lift_it(
    paperround: Paperround, store: Store
) -> None:
    with write_transaction(store.sessions) as session:
        suppress(session, "gone@example.org", SuppressionReason.BOUNCED, "550 5.1.1 user unknown")
    refused = paperround("subscribers", "add", "gone@example.org", "--confirmed")
    assert refused.exit_code == 1
    assert "bounced since" in refused.stderr and "550 5.1.1 user unknown" in refused.stderr
    assert "paperround suppressions remove gone@example.org" in refused.stderr
    paperround("suppressions", "remove", "gone@example.org")
    back = paperround("subscribers", "add", "gone@example.org", "--confirmed")
    assert back.exit_code == 0 and ": active" in back.output  # never a reader: the admin vouches
    with store.sessions() as session:
        assert session.scalars(select(Subscriber.status)).one() == "active"


def test_an_erased_reader_stays_out_of_imports_until_lifted(
    paperround: Paperround, store: Store, tmp_path: Path
) -> None:
    assert paperround("subscribers", "add", "ann@example.org", "--confirmed").exit_code == 0
    backup = tmp_path / "backup.csv"
    backup.write_text(paperround("subscribers", "export").output)
    assert paperround("subscribers", "remove", "ann@example.org").exit_code == 0
    listed = paperround("suppressions", "list").output
    assert "(erased) sha256:" in listed and "ann@" not in listed
    refused = paperround("subscribers", "import", str(backup), "--confirmed")
    assert refused.exit_code == 1 and "suppressed" in refused.stderr
    assert paperround("suppressions", "remove", "ann@example.org").exit_code == 0
    restored = paperround("subscribers", "import", str(backup), "--confirmed")
    assert restored.exit_code == 0 and "1 added" in restored.output
