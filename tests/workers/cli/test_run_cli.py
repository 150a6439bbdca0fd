"""`paperround run`: a taken port is reported before anything starts, `--port` moves the public
links unless base_url is set, one "ready" block, Celery's output in var/log, request lines."""

from __future__ import annotations

import email
import email.policy
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import unused_port
from tests.support.processes import ROOT
from tests.workers.cli.conftest import Paperround, _env
from workers.cli.run import public_base_url
from workers.web.access_log import AccessLog, shown_path


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_a_taken_web_port_is_reported_before_anything_starts(
    tmp_path: Path, taken_port: int
) -> None:
    data_dir = tmp_path / "var"
    run = Paperround({**_env(tmp_path, ""), "PAPERROUND_DATA_DIR": str(data_dir)})
    result = run("run", "--port", str(taken_port), PAPERROUND_CAPTURE_PORT=str(unused_port()))
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: port {taken_port} on 127.0.0.1 (the web pages) is not free")
    assert "choose another with --port" in line
    assert not data_dir.exists()  # no store, no worker, no beat, no log


def test_a_taken_capture_port_names_its_setting(tmp_path: Path, taken_port: int) -> None:
    run = Paperround({**_env(tmp_path, ""), "PAPERROUND_DATA_DIR": str(tmp_path / "var")})
    result = run("run", "--port", str(unused_port()), PAPERROUND_CAPTURE_PORT=str(taken_port))
    assert result.exit_code == 1
    assert f"port {taken_port} on 127.0.0.1 (mail) is not free" in result.stderr
    assert "PAPERROUND_CAPTURE_PORT" in result.stderr


def test_the_port_moves_public_links_unless_base_url_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from pipeline.settings import load_settings

    monkeypatch.delenv("PAPERROUND_BASE_URL", raising=False)
    monkeypatch.delenv("PAPERROUND_CONFIG", raising=False)
    settings = load_settings({})
    assert public_base_url(settings, "127.0.0.1", 8123) == "http://127.0.0.1:8123"
    assert public_base_url(settings, "0.0.0.0", 8123) == "http://127.0.0.1:8123"
    config = tmp_path / "c.toml"
    config.write_text('base_url = "https://papers.example.org"\n')
    monkeypatch.setenv("PAPERROUND_CONFIG", str(config))
    configured = load_settings()
    assert public_base_url(configured, "127.0.0.1", 8123) == "https://papers.example.org"
    monkeypatch.delenv("PAPERROUND_CONFIG")
    monkeypatch.setenv("PAPERROUND_BASE_URL", "https://news.example.org")
    assert public_base_url(load_settings(), "127.0.0.1", 8123) == "https://news.example.org"


def test_request_lines_carry_no_token_and_no_query() -> None:
    lines: list[str] = []

    def app(environ: dict[str, object], start_response: object) -> list[bytes]:
        start_response("200 OK", [("Content-Length", "2")])  # type: ignore[operator]
        return [b"ok"]

    logged = AccessLog(app, lines.append)
    for path in ("/archive", "/preferences/abc.def-ghi", "/feedback/tok/more", "/healthz"):
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "email=a@b.org",
                   "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1"}  # fmt: skip
        assert b"".join(logged(environ, lambda *a: None)) == b"ok"
    assert [re.sub(r"\d+ms$", "Nms", line) for line in lines] == [
        '127.0.0.1 "GET /archive HTTP/1.1" 200 2 Nms',
        '127.0.0.1 "GET /preferences/<token> HTTP/1.1" 200 2 Nms',
        '127.0.0.1 "GET /feedback/<token>/more HTTP/1.1" 200 2 Nms',
    ]
    assert shown_path("/confirm/") == "/confirm/"


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_run_prints_one_ready_block_keeps_celery_in_its_log_and_logs_requests(
    tmp_path: Path,
) -> None:
    port, capture = unused_port(), unused_port()
    data = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERROUND_")}
    env.update(
        PAPERROUND_DATA_DIR=str(data),
        PAPERROUND_CAPTURE_PORT=str(capture),
        PAPERROUND_DEFAULT_SOURCES="",
        PYTHONPATH=str(ROOT),
    )
    out = (tmp_path / "terminal.txt").open("wb")
    run = subprocess.Popen(
        [sys.executable, "-m", "workers.cli", "run", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def terminal() -> str:
        return (tmp_path / "terminal.txt").read_text(errors="replace")

    try:
        deadline = time.monotonic() + 90
        while "Paperround is ready" not in terminal():
            assert run.poll() is None, terminal()
            assert time.monotonic() < deadline, terminal()
            time.sleep(0.2)
        base = f"http://127.0.0.1:{port}"
        reply = httpx.post(base + "/api/subscribe", json={"email": "reader@example.org"})
        assert reply.status_code == 202
        deadline = time.monotonic() + 30
        while not list((data / "mail" / "new").glob("*")):
            assert time.monotonic() < deadline, "no confirmation mail\n" + terminal()
            time.sleep(0.2)
        [mail] = (data / "mail" / "new").iterdir()
        message = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
        text = message.get_body(("plain",))
        assert text is not None
        link = re.search(rf"{re.escape(base)}/confirm/[A-Za-z0-9_.\-]+", str(text.get_content()))
        assert link, "the confirmation link does not use the port `run` serves on"
        assert httpx.get(link.group(0)).status_code == 200
        time.sleep(0.5)
    finally:
        run.send_signal(signal.SIGINT)
        try:
            code = run.wait(45)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            raise
        out.close()
    shown = terminal()
    assert code == 0, shown
    block = shown[shown.index("Paperround is ready") :].splitlines()
    assert block[1] == f"  site:   http://127.0.0.1:{port}/"
    assert block[2].startswith(f"  mail:   the Maildir {data / 'mail'}/")
    assert block[3] == f"  store:  {data / 'paperround.db'}"
    assert (
        block[5] == f"  logs:   {data / 'log'}/ (worker, beat, capture); --verbose shows them here"
    )
    assert shown.count("Paperround is ready") == 1
    assert "celery" not in shown.lower() and "Warning" not in shown  # banners are in the logs
    worker_log = (data / "log" / "worker.log").read_text()
    assert re.search(r"paperround-\d+@\S+ ready\.", worker_log)  # Celery's own output is here
    assert (data / "log" / "beat.log").exists()
    assert '"POST /api/subscribe HTTP/1.1" 202' in shown
    assert '"GET /confirm/<token> HTTP/1.1" 200' in shown
    assert link.group(0).rsplit("/", 1)[1] not in shown  # no token in the log
