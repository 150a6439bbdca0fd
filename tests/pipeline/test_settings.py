"""Settings: defaults, env overrides, one-line errors naming the setting."""

from __future__ import annotations

import dataclasses
import subprocess
import tomllib
from pathlib import Path

import pytest

from pipeline.resources import config_dir
from pipeline.settings import Settings, SettingsError, load_settings, project_dir


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


# --- a newcomer's papercuts, item 7: settings fail at start, in one line --------------------


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "infinity"])
@pytest.mark.parametrize("name", ["ranking_gravity", "read_timeout", "pause_error_rate"])
def test_nan_and_infinities_are_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({f"PAPERROUND_{name.upper()}": value})
    message = str(caught.value)
    assert message.startswith(f"invalid setting {name} ") and "finite number" in message
    assert "\n" not in message


def test_nan_in_a_config_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("ranking_gravity = nan\n")
    with pytest.raises(SettingsError, match=r"invalid setting ranking_gravity.*finite"):
        load_settings({"PAPERROUND_CONFIG": str(config)})


@pytest.mark.parametrize("port", ["0", "65536", "-1", "99999"])
def test_ports_out_of_range_are_refused(port: str) -> None:
    with pytest.raises(SettingsError, match=r"capture_port.*1 to 65535"):
        load_settings({"PAPERROUND_CAPTURE_PORT": port})


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("smtp://relay.example.org:99999", "port must be a number from 1 to 65535"),
        ("http://relay.example.org", "is not smtp:// or smtps://"),
        ("smtp://", "has no host"),
        ("smtp://relay.example.org?starttls=maybe", "must be 0 or 1"),
        ("smtp://relay.example.org?tiemout=3", "unknown SMTP URL option 'tiemout'"),
    ],
)
def test_an_invalid_smtp_url_is_refused_at_start(url: str, needle: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"PAPERROUND_SMTP_URL": url})
    assert "invalid setting smtp_url" in str(caught.value) and needle in str(caught.value)


def _dkim_key(tmp_path: Path) -> Path:
    path = tmp_path / "dkim.pem"
    subprocess.run(
        ["openssl", "genrsa", "-traditional", "-out", str(path), "1024"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


def test_dkim_is_all_three_settings_or_none_with_a_readable_key(tmp_path: Path) -> None:
    key = _dkim_key(tmp_path)
    whole = {
        "PAPERROUND_DKIM_SELECTOR": "pr1",
        "PAPERROUND_DKIM_DOMAIN": "example.org",
        "PAPERROUND_DKIM_KEY_PATH": str(key),
    }
    assert load_settings(whole).dkim_selector == "pr1"
    for missing in whole:
        half = {k: v for k, v in whole.items() if k != missing}
        with pytest.raises(SettingsError, match="DKIM needs dkim_selector, dkim_domain and"):
            load_settings(half)
    with pytest.raises(SettingsError, match=r"dkim_key_path.*cannot read the key: No such file"):
        load_settings({**whole, "PAPERROUND_DKIM_KEY_PATH": str(tmp_path / "missing.pem")})
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    with pytest.raises(SettingsError, match=r"dkim_key_path.*not an RSA PEM key"):
        load_settings({**whole, "PAPERROUND_DKIM_KEY_PATH": str(junk)})


def test_an_unknown_variable_is_warned_about_with_the_setting_meant() -> None:
    heard: list[str] = []
    settings = load_settings(
        {
            "PAPERROUND_REED_TIMEOUT": "3",
            "PAPERROUND_CONFIG_FILE": "x",
            "PAPERROUND_TEST_POSTGRES_URL": "postgresql://x",  # the test suite's own
            "PAPERROUND_READ_TIMEOUT": "4",
        },
        warn=heard.append,
    )
    assert settings.read_timeout == 4.0  # a warning, not a refusal
    assert heard[0] == (
        "PAPERROUND_CONFIG_FILE is not a setting and is ignored; did you mean PAPERROUND_CONFIG?"
    )
    assert heard[1] == (
        "PAPERROUND_REED_TIMEOUT is not a setting and is ignored; "
        "did you mean PAPERROUND_READ_TIMEOUT?"
    )
    assert len(heard) == 2


# --- item 8: one store wherever you run it -------------------------------------------------


def test_a_relative_data_dir_is_the_projects_not_the_current_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    checkout = Path(__file__).resolve().parents[2]
    assert project_dir() == checkout
    settings = load_settings({})
    assert settings.data_dir == checkout / "var"
    assert settings.sqlite_file == checkout / "var" / "paperround.db"
    moved = load_settings({"PAPERROUND_DATA_DIR": "elsewhere/state"})
    assert moved.data_dir == checkout / "elsewhere" / "state"
    absolute = load_settings({"PAPERROUND_DATA_DIR": str(tmp_path / "abs")})
    assert absolute.data_dir == tmp_path / "abs"
    assert load_settings({"PAPERROUND_DATABASE_URL": "postgresql://db/x"}).sqlite_file is None
