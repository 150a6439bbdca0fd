"""Find the templates/ and config/ folders in a source checkout and in an installed wheel.

The wheel carries them as pipeline/_data/* (see pyproject.toml); a checkout or an editable
install reads them from the repository root, so edits to templates show up without reinstalling.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"Paperround's {name}/ folder is missing; reinstall the package")


def templates_dir() -> Path:
    """The folder holding email/ and web/ templates."""
    return _find("templates")


def config_dir() -> Path:
    """The folder holding defaults.toml."""
    return _find("config")
