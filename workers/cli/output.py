"""One way to print results: `--json` for scripts, words for people.

Every command that can print JSON takes the same `json_option` and hands its result to `emit`;
report types know how to become JSON (`as_json()`), and `to_json` turns everything else a
report may hold (dates, enums, lists, dicts) into plain JSON. NaN and infinities are refused,
so what is printed is always valid JSON.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

import click

F = TypeVar("F", bound=Callable[..., Any])


@runtime_checkable
class JsonReport(Protocol):
    def as_json(self) -> Any: ...


def json_option(func: F) -> F:
    """`--json`: print the result as JSON (timestamps ISO 8601, UTC) instead of text."""
    option = click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print the result as JSON for scripts (timestamps in ISO 8601, UTC).",
    )
    return option(func)


def to_json(value: Any) -> Any:
    """`value` as plain JSON data."""
    if isinstance(value, JsonReport):
        return to_json(value.as_json())
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v) for v in value]
    return value


def emit(result: Any, as_json: bool, human: Callable[[], None]) -> None:
    """Print `result` as JSON, or call `human` to print it for people."""
    if as_json:
        text = json.dumps(to_json(result), indent=2, ensure_ascii=False, allow_nan=False)
        sys.stdout.write(text + "\n")
    else:
        human()
