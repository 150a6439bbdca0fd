"""Settings: defaults, env overrides, one-line errors naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.settings import SettingsError, load_settings


def test_defaults_use_sqlite_under_var() -> None:
    settings = load_settings({})
    assert settings.database_url == ""
    assert settings.effective_database_url.startswith("sqlite:///")
    assert settings.effective_database_url.endswith("var/paperround.db")
    assert settings.default_sources


def test_env_overrides_and_types() -> None:
    settings = load_settings(
        {
            "PAPERROUND_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1/db",
            "PAPERROUND_READ_TIMEOUT": "3.5",
            "PAPERROUND_MAX_REDIRECTS": "2",
            "PAPERROUND_DEFAULT_SOURCES": "a|feed|https://x.org/a, b|feed|https://x.org/b",
        }
    )
    assert settings.effective_database_url == "postgresql+psycopg://u@127.0.0.1/db"
    assert settings.read_timeout == 3.5
    assert settings.max_redirects == 2
    assert settings.default_sources == ("a|feed|https://x.org/a", "b|feed|https://x.org/b")


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"PAPERROUND_READ_TIMEOUT": "soon"}, "read_timeout (PAPERROUND_READ_TIMEOUT='soon')"),
        ({"PAPERROUND_READ_TIMEOUT": "-1"}, "read_timeout"),
        ({"PAPERROUND_MAX_REDIRECTS": "0"}, "max_redirects"),
        ({"PAPERROUND_DATABASE_URL": "not a url"}, "database_url"),
    ],
)
def test_invalid_values_fail_with_one_line(env: dict[str, str], needle: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    message = str(info.value)
    assert needle in message
    assert "\n" not in message


def test_config_file_layer_and_unknown_keys(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('read_timeout = 7\nuser_agent = "x/1"\n')
    settings = load_settings({"PAPERROUND_CONFIG": str(good), "PAPERROUND_READ_TIMEOUT": "9"})
    assert (settings.read_timeout, settings.user_agent) == (9.0, "x/1")  # env beats file
    typo = tmp_path / "typo.toml"
    typo.write_text("reed_timeout = 7\n")
    with pytest.raises(SettingsError, match="unknown setting 'reed_timeout'"):
        load_settings({"PAPERROUND_CONFIG": str(typo)})
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings({"PAPERROUND_CONFIG": str(tmp_path / "missing.toml")})
