"""A real digest, as it leaves Paperround, scores below 1.0 with SpamAssassin's local tests.

`spamassassin -L -t` (Debian package spamassassin, installed by config/system-deps.sh) runs
every rule that needs no network. Rules that fire are listed in the failure message, so a
template change that trips one (hidden text, HTML-only, broken MIME) says which.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Store, service_unavailable
from tests.pipeline.digest.test_plan_and_send import plan, seed_rich_papers, send
from tests.support.smtpserver import ScriptedSmtpServer
from tests.support.world import add_readers, settings_for

_STATUS_RE = re.compile(r"^X-Spam-Status: (Yes|No), score=(-?\d+(?:\.\d+)?)", re.M)
_RULE_RE = re.compile(r"^\s*(-?\d+\.\d+)\s+([A-Z0-9_]+)\s", re.M)


def spam_report(message: bytes, folder: Path) -> tuple[float, dict[str, float]]:
    """(score, {rule: points}) from `spamassassin -L -t` with throw-away user preferences."""
    exe = shutil.which("spamassassin")
    if exe is None:
        service_unavailable("spamassassin (run `make system-deps`)", "not on PATH")
    prefs = folder / "user_prefs"
    prefs.write_text("")
    done = subprocess.run(
        [str(exe), "-L", "-t", "-p", str(prefs)],
        input=message,
        capture_output=True,
        timeout=120,
        check=True,
    )
    out = done.stdout.decode("utf-8", errors="replace")
    status = _STATUS_RE.search(out)
    assert status, "no X-Spam-Status in spamassassin's output:\n" + out[:2000]
    details = out.split("Content analysis details:", 1)[-1]
    rules = {name: float(points) for points, name in _RULE_RE.findall(details)}
    return float(status.group(2)), rules


@pytest.mark.slow
def test_a_real_digest_scores_below_one(sqlite_store: Store, tmp_path: Path) -> None:
    with ScriptedSmtpServer() as smtp:
        settings = settings_for(
            tmp_path,
            sqlite_store.url,
            smtp.url,
            sender_address="digest@papers.example.org",
            sender_name="Paperround Digest",
        )
        seed_rich_papers(sqlite_store.sessions, 30)
        add_readers(sqlite_store.sessions, 1, papers_per_digest=settings.default_papers_per_digest)
        assert send(sqlite_store, settings, plan(sqlite_store, settings)).sent == 1
    (received,) = smtp.messages
    eml = tmp_path / "digest.eml"
    eml.write_bytes(received.data)  # kept for a look when the test fails
    score, rules = spam_report(received.data, tmp_path)
    fired = {name: points for name, points in rules.items() if points != 0}
    assert score < 1.0, f"SpamAssassin score {score} for {eml}; rules with points: {fired}"
    assert "HTML_MESSAGE" in rules  # the report was parsed: it did look at our HTML part
    assert "MIME_HTML_ONLY" not in rules and "HTML_FONT_LOW_CONTRAST" not in rules
