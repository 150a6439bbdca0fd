"""The shape of the house: pipeline/ stays plain Python; importing a door has no side effects."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pipeline

ROOT = Path(__file__).resolve().parents[2]
DOOR_FRAMEWORKS = {"celery", "kombu", "click", "flask", "werkzeug", "waitress", "workers"}


def test_no_library_module_imports_a_door_framework() -> None:
    offenders = []
    for path in sorted((ROOT / "pipeline").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)}: {n}"
                for n in names
                if n.split(".")[0] in DOOR_FRAMEWORKS
            ]
    assert offenders == []


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_whole_library_loads_without_celery_flask_or_workers(tmp_path: Path) -> None:
    modules = [m.name for m in pkgutil.walk_packages(pipeline.__path__, "pipeline.")]
    assert "pipeline.delivery.ledger" in modules and "pipeline.wiring" in modules
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = _run(code, {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    # (click itself may come along: httpx imports it for its own command line when present)
    found = sorted({m for m in loaded if m.split(".")[0] in DOOR_FRAMEWORKS - {"click"}})
    assert found == [], f"pipeline/ pulled in {found}"


def test_importing_the_doors_reads_no_settings_and_makes_no_folders(tmp_path: Path) -> None:
    data = tmp_path / "state"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PAPERROUND_DATA_DIR": str(data),
        "PAPERROUND_BASE_URL": "not-a-url",  # loading settings would fail on this
    }
    code = "import workers.cli, workers.web, workers.jobs.app, workers.jobs.tasks, workers.capture"
    done = _run(code, env)
    assert done.returncode == 0, done.stderr
    assert not data.exists()
    assert not (ROOT / "control").exists()
