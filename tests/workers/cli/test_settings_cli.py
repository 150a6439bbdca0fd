"""Settings fail at start, in one line, for every command; one store wherever you run from."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import Result

from tests.workers.cli.conftest import Paperround, _env

ROOT = Path(__file__).resolve().parents[3]
COMMANDS = [
    ["init"],
    ["sources", "list"],
    ["ingest"],
    ["papers", "list", "--json"],
    ["subscribers", "list"],
    ["subscribers", "export"],
    ["digest", "plan"],
    ["digest", "send"],
    ["editions", "list"],
    ["status", "--json"],
    ["web", "--port", "0"],
    ["run", "--port", "1"],
]
BAD = [
    ("PAPERROUND_RANKING_GRAVITY", "nan", "ranking_gravity", "finite number"),
    ("PAPERROUND_READ_TIMEOUT", "inf", "read_timeout", "finite number"),
    ("PAPERROUND_DATABASE_URL", "mysql+mysqldb://u@db/x", "database_url", "is not installed"),
    ("PAPERROUND_DATABASE_URL", "cockroach://u@db/x", "database_url", "no such database"),
    ("PAPERROUND_SMTP_URL", "smtp://relay.example.org:70000", "smtp_url", "1 to 65535"),
    ("PAPERROUND_CAPTURE_PORT", "70000", "capture_port", "1 to 65535"),
    ("PAPERROUND_DKIM_SELECTOR", "pr1", "dkim_domain", "DKIM needs"),
]


def _one_error_line(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize(("variable", "value", "setting", "needle"), BAD)
@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_command_refuses_a_bad_setting_in_one_line(
    tmp_path: Path, command: list[str], variable: str, value: str, setting: str, needle: str
) -> None:
    run = Paperround(_env(tmp_path, f"sqlite:///{tmp_path / 'p.db'}"))
    result = run(*command, **{variable: value})
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert f"invalid setting {setting} " in line and needle in line, line
    assert not (tmp_path / "p.db").exists()  # refused before touching anything


def test_an_unknown_variable_is_a_warning_naming_the_setting_meant(paperround: Paperround) -> None:
    result = paperround("sources", "list", PAPERROUND_REED_TIMEOUT="3")
    assert result.exit_code == 0
    assert result.stderr.strip() == (
        "Warning: PAPERROUND_REED_TIMEOUT is not a setting and is ignored; "
        "did you mean PAPERROUND_READ_TIMEOUT?"
    )


def test_no_command_but_init_and_run_creates_a_store(tmp_path: Path) -> None:
    data_dir = tmp_path / "state"
    run = Paperround({**_env(tmp_path, ""), "PAPERROUND_DATA_DIR": str(data_dir)})
    store = data_dir / "paperround.db"
    for command in (["sources", "list"], ["subscribers", "add", "a@example.org"], ["status"]):
        result = run(*command)
        assert result.exit_code == 1
        line = _one_error_line(result)
        assert f"no store at {store}; run `paperround init`" in line
        assert not store.exists()
    assert run("init").exit_code == 0 and store.is_file()
    assert run("sources", "list").exit_code == 0


def test_a_command_from_another_folder_finds_the_projects_store_or_refuses(
    tmp_path: Path,
) -> None:
    """A relative data_dir is the checkout's, not the current folder's: run from elsewhere a
    command names the store it looked for and creates nothing, here or there."""
    relative = f"var-test-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in _env(tmp_path, "").items() if v is not None}
    env.update(PAPERROUND_DATA_DIR=relative, PATH="/usr/bin:/bin")
    done = subprocess.run(
        [sys.executable, "-m", "workers.cli", "subscribers", "list"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"Error: no store at {ROOT / relative / 'paperround.db'}; run `paperround init` to "
        "create it, or point PAPERROUND_DATA_DIR or PAPERROUND_DATABASE_URL at the existing one"
    )
    assert not (tmp_path / relative).exists() and not (ROOT / relative).exists()


def test_the_run_init_hint_names_the_store(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()  # a file, but no schema: e.g. a store from before `init`
    run = Paperround(_env(tmp_path, f"sqlite:///{empty}"))
    line = _one_error_line(run("sources", "list"))
    assert "no such table" in line and f"(store: {empty};" in line
    assert "run `paperround init`" in line
