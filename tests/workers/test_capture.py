"""workers/capture.py: a real SMTP server that files mail into a Maildir."""

from __future__ import annotations

import email
import gc
import mailbox
import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import pytest

from pipeline.mail.message import MessageTemplate
from pipeline.mail.smtp import SmtpTransport
from workers.capture import CaptureServer

ROOT = Path(__file__).resolve().parents[2]


def test_smtplib_message_lands_in_the_maildir_once_per_recipient(tmp_path: Path) -> None:
    box_dir = tmp_path / "mail"
    raw = b"From: a@example.org\r\nSubject: hello\r\n\r\nbody line\r\n.dot line\r\n"
    with CaptureServer(box_dir) as server:
        assert server.port > 0
        with smtplib.SMTP("127.0.0.1", server.port, local_hostname="test", timeout=5) as smtp:
            refused = smtp.sendmail("bounce@example.org", ["x@example.net", "y@example.net"], raw)
    assert refused == {}
    box = mailbox.Maildir(box_dir, create=False)
    messages = sorted((box.get_bytes(key) for key in box.iterkeys()), key=lambda b: b)
    assert len(messages) == 2
    for data, rcpt in zip(messages, ["x@example.net", "y@example.net"], strict=True):
        assert data == (
            f"Return-Path: <bounce@example.org>\nX-Original-To: {rcpt}\n".encode()
            + b"From: a@example.org\nSubject: hello\n\nbody line\n.dot line\n"
        )


def test_a_digest_sent_by_the_transport_can_be_opened(tmp_path: Path) -> None:
    template = MessageTemplate.build(
        html="<p>Hi PRTOKname</p>",
        text="Hi PRTOKname\n",
        subject="Dïgest",
        from_addr="digest@papers.example.org",
        from_name="Paperround",
        list_id="daily.papers.example.org",
        feedback_id="",
        sender_domain="papers.example.org",
    )
    raw = template.render_for(
        "ada@example.net",
        {"PRTOKname": "Ada"},
        "https://x.example/u/1",
        "",
        date=datetime(2025, 1, 1, tzinfo=UTC),
    )
    with CaptureServer(tmp_path / "mail") as server, SmtpTransport.from_url(server.url) as smtp:
        outcome = smtp.send("bounces@papers.example.org", "ada@example.net", raw)
    assert outcome.status == "sent"
    (key,) = mailbox.Maildir(tmp_path / "mail").keys()
    opened = email.message_from_bytes(
        mailbox.Maildir(tmp_path / "mail").get_bytes(key), policy=policy.default
    )
    assert opened["X-Original-To"] == "ada@example.net"
    assert opened["Subject"] == "Dïgest"
    plain = opened.get_body(("plain",))
    assert plain is not None
    assert plain.get_content() == "Hi Ada\n"


def test_main_runs_until_terminated(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "workers.capture", "--maildir", str(tmp_path / "m"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("capturing mail on smtp://127.0.0.1:"), line
        port = int(line.split("127.0.0.1:", 1)[1].split()[0])
        with smtplib.SMTP("127.0.0.1", port, local_hostname="test", timeout=5) as smtp:
            smtp.sendmail("a@example.org", ["b@example.net"], b"Subject: s\r\n\r\nx\r\n")
        assert len(mailbox.Maildir(tmp_path / "m").keys()) == 1
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr


def test_main_refuses_a_bad_port(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "workers.capture", "--maildir", str(tmp_path), "--port", "70000"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--port 70000 is not a port number" in result.stderr


def test_stopping_closes_a_conversation_in_progress(tmp_path: Path) -> None:
    """A client mid-session when the server stops sees the connection end, and the server
    leaves no socket behind for the garbage collector (filterwarnings=error would fail us on
    the ResourceWarning, as it once did in the SMTP-down crash test)."""
    server = CaptureServer(tmp_path / "mail").start()
    client = smtplib.SMTP("127.0.0.1", server.port, local_hostname="test", timeout=5)
    try:
        assert client.ehlo()[0] == 250
        client.mail("a@example.org")
        server.stop()
        gc.collect()
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.rcpt("b@example.net")
    finally:
        client.close()
    assert mailbox.Maildir(tmp_path / "mail").keys() == []


def _connect_repeatedly(port: int, stop: threading.Event, into: list[socket.socket]) -> None:
    for _ in range(300):  # bounded: at most 300 loopback connections per thread
        if stop.is_set():
            return
        try:
            into.append(socket.create_connection(("127.0.0.1", port), timeout=1))
        except OSError:
            return


def test_stopping_while_clients_connect_leaks_no_socket(tmp_path: Path) -> None:
    """Connections arriving while the server stops (a worker reconnecting as the crash test
    takes the server down) must be closed, not left to the garbage collector: pytest runs
    with filterwarnings=error, so a leaked transport's ResourceWarning fails this test."""
    for round_number in range(3):
        server = CaptureServer(tmp_path / f"mail{round_number}").start()
        stop = threading.Event()
        clients: list[socket.socket] = []
        threads = [
            threading.Thread(target=_connect_repeatedly, args=(server.port, stop, clients))
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.05)
        server.stop()
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        gc.collect()
        for client in clients:
            client.close()
        assert clients, "no client got through before the server stopped"
