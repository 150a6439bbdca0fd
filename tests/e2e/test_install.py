"""A non-editable install works: the wheel carries templates/, config/ and the migrations.

The editable install of the dev venv reads templates/ and config/ from the checkout, so it can
hide a wheel that forgot them. Here the wheel is built from the checkout, installed into a fresh
venv, and run from a folder outside the checkout with the checkout nowhere on sys.path.

Offline by design: the wheel is built without build isolation (hatchling must be in the dev
venv) and installed with --no-deps; the fresh venv borrows the dev venv's third-party packages
through a plain path in a .pth file. Such a path is not scanned for .pth files, so the dev venv's
editable hook (which would put the checkout on sys.path) stays out.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.conftest import service_unavailable

pytestmark = pytest.mark.slow

CHECKOUT = Path(__file__).resolve().parents[2]


def _run(
    argv: list[str | Path], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> str:
    result = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{argv} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("hatchling") is None:
        service_unavailable("hatchling, needed to build the wheel offline", "not in the dev venv")
    out = tmp_path_factory.mktemp("wheel")
    _run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", out, CHECKOUT],
        cwd=out,
    )  # fmt: skip
    (built,) = out.glob("paperround-*.whl")
    return built


def test_the_wheel_carries_templates_config_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for tracked in (CHECKOUT / "templates").rglob("*"):
        if tracked.is_file():
            relative = tracked.relative_to(CHECKOUT / "templates").as_posix()
            assert f"pipeline/_data/templates/{relative}" in names
    assert "pipeline/_data/config/defaults.toml" in names
    assert "pipeline/store/migrations/env.py" in names
    assert any(n.startswith("pipeline/store/migrations/versions/") for n in names)
    assert not any(n.startswith(("tests/", "bench/", "var/")) for n in names)


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel; returns its bin/ folder."""
    venv = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=venv)
    python = venv / "bin" / "python"
    _run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps",
         "--no-index", wheel],
        cwd=venv,
    )  # fmt: skip
    target = Path(
        _run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=venv
        ).strip()
    )
    # Third-party packages only: a bare path line, so .venv's own .pth files are not processed.
    (target / "zz_dev_venv_packages.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return venv / "bin"


def _outside_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERROUND_", "PYTHON"))}
    env["HOME"] = str(home)
    return env


def test_installed_package_runs_from_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _outside_env(tmp_path)
    probe = textwrap.dedent(
        """
        import json, sys
        import pipeline, workers
        from pipeline.resources import config_dir, templates_dir
        import dataclasses
        from pipeline.digest.preview import message_parts
        from pipeline.settings import load_settings
        from pipeline.wiring import Wiring
        settings = dataclasses.replace(
            load_settings(), secret_key="install-test-secret-0123456789",
            base_url="https://papers.example.org",
        )
        wiring = Wiring(settings)
        mail = wiring.confirmations.compose("a1" * 12, 1, "reader@example.net")
        html, text, _ = message_parts(mail.message)
        print(json.dumps({
            "pipeline": pipeline.__file__, "workers": workers.__file__,
            "templates": str(templates_dir()), "config": str(config_dir()),
            "path": sys.path, "html": html, "text": text, "url": wiring.links.confirm("a1" * 12, 1),
        }))
        """
    )
    facts = json.loads(_run([installed / "python", "-c", probe], cwd=elsewhere, env=env))
    site = str(installed.parent / "lib")
    for key in ("pipeline", "workers", "templates", "config"):
        assert facts[key].startswith(site), (key, facts[key])
    assert str(CHECKOUT) not in facts["path"], "the checkout leaked onto sys.path"
    assert facts["templates"].endswith("pipeline/_data/templates")
    assert facts["url"].startswith("https://papers.example.org/confirm/")
    assert facts["url"] in facts["html"] and facts["url"] in facts["text"]
    assert "<html" in facts["html"].lower() and "reader@example.net" in facts["html"]

    init = _run([installed / "paperround", "init"], cwd=elsewhere, env=env)
    assert "store ready" in init and "added default source hf-daily" in init
    assert (elsewhere / "var" / "paperround.db").is_file()  # default data_dir, relative to cwd
    listed = json.loads(
        _run([installed / "paperround", "sources", "list", "--json"], cwd=elsewhere, env=env)
    )
    assert [s["name"] for s in listed] == ["arxiv-cs-ai", "arxiv-cs-lg", "hf-daily"]
    again = _run([installed / "paperround", "init"], cwd=elsewhere, env=env)
    assert "added default source" not in again
