"""Settings: defaults, env overrides, one-line errors naming the setting."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from pipeline.resources import config_dir
from pipeline.settings import Settings, SettingsError, load_settings


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


def test_defaults_are_written_once_in_the_defaults_file() -> None:
    """Every field has its default in config/defaults.toml and nowhere else."""
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    with (config_dir() / "defaults.toml").open("rb") as handle:
        written = tomllib.load(handle)
    assert set(written) == set(fields)
    assert all(f.default is dataclasses.MISSING for f in fields.values())
    with pytest.raises(TypeError):
        Settings()  # type: ignore[call-arg]


def test_the_send_rate_has_one_knob_the_smtp_url(tmp_path: Path) -> None:
    assert "send_rate" not in {f.name for f in dataclasses.fields(Settings)}
    config = tmp_path / "c.toml"
    config.write_text("send_rate = 5\n")
    with pytest.raises(SettingsError, match="unknown setting 'send_rate'"):
        load_settings({"PAPERROUND_CONFIG": str(config)})
    settings = load_settings({"PAPERROUND_SMTP_URL": "smtp://relay.example.org?rate=20"})
    assert settings.effective_smtp_url == "smtp://relay.example.org?rate=20"


def test_an_invalid_smtp_url_fails_at_start() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({"PAPERROUND_SMTP_URL": "smtp://relay.example.org?rate=fast"})
    assert "smtp_url" in str(info.value) and "rate='fast' is not a number" in str(info.value)


@pytest.mark.parametrize(
    ("env", "redis", "capture"),
    [
        ({}, False, True),
        ({"PAPERROUND_BROKER_URL": "redis://r:6379/0"}, True, True),
        ({"PAPERROUND_BROKER_URL": "rediss://r:6380/0"}, True, True),
        ({"PAPERROUND_BROKER_URL": "unix:///run/redis.sock"}, True, True),
        ({"PAPERROUND_BROKER_URL": "amqp://guest@r//"}, False, True),
        ({"PAPERROUND_SMTP_URL": "smtps://relay.example.org"}, False, False),
    ],
)
def test_one_answer_to_is_it_redis_and_is_it_the_capture_server(
    env: dict[str, str], redis: bool, capture: bool
) -> None:
    settings = load_settings(env)
    assert (settings.broker_is_redis, settings.smtp_is_capture) == (redis, capture)
    if capture:
        assert settings.effective_smtp_url == f"smtp://127.0.0.1:{settings.capture_port}"


@pytest.mark.parametrize(
    "env",
    [
        {"PAPERROUND_SECRET_KEY": "hunter2"},  # too short: refused, and not shown
        {"PAPERROUND_BROKER_URL": "http://admin:hunter2@redis.internal:6379/0"},
        {"PAPERROUND_SMTP_URL": "smtp://digest:hunter2@relay.example.org?rate=fast"},
        {"PAPERROUND_DATABASE_URL": "postgresql+psycopg://app:hunter2@db:notaport/x"},
        {"PAPERROUND_DATABASE_URL": "not-a-url://app:hunter2@"},
        {"PAPERROUND_DATABASE_URL": "mysql+mysqldb://app:hunter2@db/x"},  # driver missing
        {"PAPERROUND_DATABASE_URL": "nosuchdb://app:hunter2@db/x"},
    ],
)
def test_setting_errors_never_print_a_secret(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    message = str(caught.value)
    assert "hunter2" not in message and "\n" not in message
    assert "***" in message
