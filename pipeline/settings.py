"""Typed settings: config/defaults.toml, then an optional TOML file, then PAPERROUND_* variables.

Invalid values fail at start with one line naming the setting (SettingsError), so a typo in
production is caught before any feed is fetched or any mail is sent.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import os
import re
import tomllib
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.mail.dkim import load_dkim
from pipeline.mail.smtp_url import parse_smtp_url
from pipeline.resources import config_dir

log = logging.getLogger(__name__)
ENV_PREFIX = "PAPERROUND_"
# PAPERROUND_* names that are not settings: the config file's path, and the test suite's own.
NOT_SETTINGS = ("PAPERROUND_CONFIG", "PAPERROUND_CHROMIUM")
NOT_SETTINGS_PREFIXES = ("PAPERROUND_TEST_",)
# A checkout (or editable install) has pyproject.toml beside the pipeline package: relative
# paths there mean the project's folders, wherever a command is run from.
_CHECKOUT = Path(__file__).resolve().parent.parent
CAPTURE = "capture"  # smtp_url of the embedded default: the local capture server
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
BROKER_SCHEMES = (*REDIS_SCHEMES, "amqp://", "pyamqp://", "filesystem://", "sqla+")


class SettingsError(ValueError):
    """A setting has an invalid value; the message names it and says what is expected."""


@dataclass(frozen=True)
class Settings:
    """Everything configurable. Field names are the TOML keys; env names are upper-cased.

    No field has a default here: config/defaults.toml holds every default (with its
    documentation), and loading fails when a field is missing from it.
    """

    data_dir: Path
    database_url: str
    user_agent: str
    contact_address: str
    host_intervals: tuple[str, ...]
    catch_up_days: int
    connect_timeout: float
    read_timeout: float
    max_feed_bytes: int
    max_redirects: int
    max_retries: int
    max_retry_after: float
    default_sources: tuple[str, ...]
    ranking_gravity: float
    site_name: str
    base_url: str
    secret_key: str
    sender_address: str
    sender_name: str
    postal_address: str
    smtp_url: str
    capture_port: int
    send_batch_size: int
    send_max_attempts: int
    retry_backoff_seconds: float
    claim_timeout_seconds: float
    send_breaker_failures: int
    pause_same_refusals: int
    pause_error_rate: float
    dkim_selector: str
    dkim_domain: str
    dkim_key_path: str
    broker_url: str
    redis_key_prefix: str
    send_catch_up_hours: int
    requeue_after_seconds: float
    maintenance_interval_seconds: float
    plan_interval_seconds: int
    delivery_retention_days: int
    edition_pool_size: int
    default_papers_per_digest: int
    max_papers_per_digest: int
    web_rate_per_ip: int
    web_rate_per_address: int
    web_rate_window_seconds: int
    web_max_request_bytes: int
    web_trusted_proxies: int
    web_threads: int

    @property
    def maildir(self) -> Path:
        """Where the embedded capture SMTP server stores what it receives."""
        return self.data_dir / "mail"

    @property
    def effective_user_agent(self) -> str:
        """The User-Agent feeds see: the setting, else one naming this instance and a contact."""
        if self.user_agent:
            return self.user_agent
        contact = self.contact_address or self.sender_address
        return f"Paperround/{__version__} (+{self.base_url}; mailto:{contact})"

    @property
    def fetch_intervals(self) -> dict[str, float]:
        """host_intervals as {host: seconds}."""
        return {
            host.strip().lower(): float(seconds)
            for host, _, seconds in (item.partition("=") for item in self.host_intervals)
        }

    @property
    def sender_domain(self) -> str:
        return self.sender_address.rpartition("@")[2]

    @property
    def broker_is_redis(self) -> bool:
        """Whether the broker is a Redis server (locks and rate limits then live there too)."""
        return self.broker_url.startswith(REDIS_SCHEMES)

    @property
    def smtp_is_capture(self) -> bool:
        """Whether mail goes to Paperround's own capture server (the embedded default)."""
        return self.smtp_url == CAPTURE

    @property
    def effective_smtp_url(self) -> str:
        """The SMTP URL to send through; "capture" means the local capture server."""
        if self.smtp_is_capture:
            return f"smtp://127.0.0.1:{self.capture_port}"
        return self.smtp_url

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or an SQLite file under data_dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'paperround.db').resolve()}"

    @property
    def sqlite_file(self) -> Path | None:
        """The store's file when it is SQLite on disk (None: a server, or in memory)."""
        from sqlalchemy.engine import make_url

        url = make_url(self.effective_database_url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return Path(url.database).resolve()


SECRET_SETTINGS = frozenset({"secret_key"})
URL_SETTINGS = frozenset({"database_url", "broker_url", "smtp_url"})  # may carry a password
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@\s]*@", re.I)


def shown_value(name: str, value: object) -> str:
    """How a setting's value may appear in an error: secrets never, passwords in URLs never."""
    if name in SECRET_SETTINGS:
        return "'***'" if value else "''"
    text = repr(value)
    if name in URL_SETTINGS:
        text = _URL_PASSWORD.sub(r"\g<scheme>\g<user>:***@", text)
    return text


def _coerce(name: str, raw: Any, annotation: Any) -> Any:
    """Turn a TOML value or an environment string into the field's type, or raise SettingsError."""
    env_name = ENV_PREFIX + name.upper()
    value: Any
    try:
        if annotation is Path:
            value = Path(str(raw))
        elif annotation is bool:
            if isinstance(raw, bool):
                value = raw
            elif str(raw).strip().lower() in {"1", "true", "yes", "on"}:
                value = True
            elif str(raw).strip().lower() in {"0", "false", "no", "off", ""}:
                value = False
            else:
                raise ValueError("expected true or false")
        elif annotation is int:
            if isinstance(raw, bool):
                raise ValueError("expected an integer")
            value = int(str(raw).replace("_", ""))
        elif annotation is float:
            if isinstance(raw, bool):
                raise ValueError("expected a number")
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError("expected a finite number, not NaN or infinity")
        elif annotation is str:
            if not isinstance(raw, str | int | float):
                raise ValueError("expected a string")
            value = str(raw)
        elif typing.get_origin(annotation) is tuple:
            if isinstance(raw, str):
                items = [part.strip() for part in raw.split(",") if part.strip()]
            elif isinstance(raw, list):
                items = [str(part) for part in raw]
            else:
                raise ValueError("expected a list")
            value = tuple(items)
        else:  # pragma: no cover - a new field type needs a branch above
            raise ValueError(f"unsupported setting type {annotation!r}")
    except (TypeError, ValueError) as exc:
        shown = shown_value(name, raw)
        raise SettingsError(f"invalid setting {name} ({env_name}={shown}): {exc}") from exc
    return value


def _validate(settings: Settings) -> None:
    def bad(name: str, why: str) -> SettingsError:
        shown = f"{ENV_PREFIX}{name.upper()}={shown_value(name, getattr(settings, name))}"
        return SettingsError(f"invalid setting {name} ({shown}): {why}")

    if settings.database_url:
        _check_database_url(settings.database_url, bad)
    for name in ("connect_timeout", "read_timeout", "ranking_gravity"):
        if getattr(settings, name) <= 0:
            raise bad(name, "must be greater than 0")
    for name in ("max_feed_bytes", "max_redirects"):
        if getattr(settings, name) < 1:
            raise bad(name, "must be at least 1")
    if "@" not in settings.sender_address or any(c in settings.sender_address for c in "\r\n <>"):
        raise bad("sender_address", "must be a plain address like digest@example.org")
    if not settings.base_url.startswith(("http://", "https://")):
        raise bad("base_url", "must start with http:// or https://")
    if settings.broker_url and not settings.broker_url.startswith(BROKER_SCHEMES):
        raise bad("broker_url", "must be a redis://, amqp:// or filesystem:// URL")
    if not settings.smtp_is_capture:
        try:
            parse_smtp_url(settings.smtp_url)
        except ValueError as exc:
            raise bad("smtp_url", f'{exc} (or "capture" for the local capture server)') from None
    if settings.secret_key and len(settings.secret_key) < 16:
        raise bad("secret_key", "must be at least 16 characters (or empty: made once, kept)")
    if not settings.redis_key_prefix or any(c.isspace() for c in settings.redis_key_prefix):
        raise bad("redis_key_prefix", "must be non-empty, without spaces")
    if not 1 <= settings.plan_interval_seconds <= 3600:
        raise bad("plan_interval_seconds", "must be between 1 and 3600")
    if settings.maintenance_interval_seconds < 1:
        raise bad("maintenance_interval_seconds", "must be at least 1")
    if not 1 <= settings.send_catch_up_hours <= 23:
        raise bad("send_catch_up_hours", "must be between 1 and 23")
    if not 0 < settings.pause_error_rate <= 1:
        raise bad("pause_error_rate", "must be a share above 0 and at most 1, e.g. 0.5")
    if not 1 <= settings.capture_port <= 65535:
        raise bad("capture_port", "must be a port number from 1 to 65535")
    _check_dkim(settings, bad)
    for name in (
        "send_batch_size",
        "send_max_attempts",
        "edition_pool_size",
        "send_breaker_failures",
        "pause_same_refusals",
    ):
        if getattr(settings, name) < 1:
            raise bad(name, "must be at least 1")
    if not 1 <= settings.default_papers_per_digest <= settings.max_papers_per_digest:
        raise bad("default_papers_per_digest", "must be between 1 and max_papers_per_digest")
    for name in (
        "web_rate_per_ip",
        "web_rate_per_address",
        "web_rate_window_seconds",
        "web_max_request_bytes",
        "web_threads",
    ):
        if getattr(settings, name) < 1:
            raise bad(name, "must be at least 1")
    if settings.web_trusted_proxies < 0:
        raise bad("web_trusted_proxies", "must be 0 or more")
    for name in (
        "retry_backoff_seconds",
        "claim_timeout_seconds",
        "requeue_after_seconds",
    ):
        if getattr(settings, name) < 0:
            raise bad(name, "must be 0 or more")
    if settings.delivery_retention_days < 0:
        raise bad("delivery_retention_days", "must be 0 (keep forever) or a number of days")
    if settings.max_retries < 0:
        raise bad("max_retries", "must be 0 or more")
    if settings.max_retry_after < 0:
        raise bad("max_retry_after", "must be 0 or more")
    if not 0 <= settings.catch_up_days <= 30:
        raise bad("catch_up_days", "must be between 0 and 30")
    for name in ("user_agent", "contact_address"):
        if any(ord(c) < 32 or ord(c) == 127 for c in getattr(settings, name)):
            raise bad(name, "must be one line of printable text")
    if settings.contact_address and "@" not in settings.contact_address:
        raise bad("contact_address", "must be an address like ops@example.org")
    for item in settings.host_intervals:
        host, equals, seconds = item.partition("=")
        try:
            valid = bool(equals and host.strip()) and 0 <= float(seconds) <= 3600
        except ValueError:
            valid = False
        if not valid:
            raise bad("host_intervals", f"{item!r} must look like host=seconds, e.g. arxiv.org=3")


def _check_dkim(settings: Settings, bad: Callable[[str, str], SettingsError]) -> None:
    """DKIM is all three settings or none, with a key that can be read and parsed now, not
    at the first message of an edition."""
    names = ("dkim_selector", "dkim_domain", "dkim_key_path")
    missing = [name for name in names if not getattr(settings, name)]
    if len(missing) == len(names):
        return
    if missing:
        raise bad(
            missing[0],
            "DKIM needs dkim_selector, dkim_domain and dkim_key_path together: "
            "set this one too, or clear the others",
        )
    try:
        load_dkim(settings.dkim_selector, settings.dkim_domain, settings.dkim_key_path)
    except OSError as exc:
        raise bad("dkim_key_path", f"cannot read the key: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise bad("dkim_key_path", str(exc)) from None


def _check_database_url(url: str, bad: Callable[[str, str], SettingsError]) -> None:
    """A URL SQLAlchemy can parse, for a dialect it has, whose driver is installed: found at
    start, in one line, instead of as a traceback at the first query."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        raise bad(
            "database_url", "no such database dialect; use sqlite:/// or postgresql+psycopg://"
        ) from None
    except (ArgumentError, ValueError):
        raise bad("database_url", "not a database URL, e.g. postgresql+psycopg://host/db") from None
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        return  # pipeline/store/db.py runs plain postgresql:// on psycopg 3
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise bad(
            "database_url",
            f"its driver ({exc.name or parsed.drivername}) is not installed; "
            "Paperround ships sqlite and postgresql+psycopg",
        ) from None


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise SettingsError(f"{what} {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{what} {path} is not valid TOML: {exc}") from None


def project_dir() -> Path:
    """What a relative path in the settings is relative to: the checkout Paperround runs
    from, or (an installed wheel has no project) the current folder."""
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "pipeline").is_dir():
        return _CHECKOUT
    return Path.cwd()


def _absolute(path: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else project_dir() / path


def unknown_variables(environ: Mapping[str, str], known: Iterable[str]) -> list[str]:
    """One line per PAPERROUND_* variable that names no setting (a typo is otherwise silent),
    with the closest setting's variable when there is one."""
    names = [ENV_PREFIX + name.upper() for name in known]
    found = []
    for variable in sorted(environ):
        if not variable.startswith(ENV_PREFIX) or variable in names:
            continue
        if variable in NOT_SETTINGS or variable.startswith(NOT_SETTINGS_PREFIXES):
            continue
        close = difflib.get_close_matches(variable, [*names, *NOT_SETTINGS[:1]], n=1)
        hint = f"; did you mean {close[0]}?" if close else "; see config/defaults.toml"
        found.append(f"{variable} is not a setting and is ignored{hint}")
    return found


def is_configured(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether setting `name` was given (PAPERROUND_<NAME> or the PAPERROUND_CONFIG file),
    rather than left at its default: `paperround run --port` moves base_url only then."""
    env = os.environ if environ is None else environ
    if ENV_PREFIX + name.upper() in env:
        return True
    config = env.get(ENV_PREFIX + "CONFIG")
    if not config:
        return False
    return name in _read_toml(Path(config), "config file")


def load_settings(
    environ: Mapping[str, str] | None = None, warn: Callable[[str], None] | None = None
) -> Settings:
    """Build Settings from defaults, PAPERROUND_CONFIG's file and PAPERROUND_* variables.

    `warn` hears of PAPERROUND_* variables that are no setting (default: this module's log).
    """
    env = os.environ if environ is None else environ
    hints = typing.get_type_hints(Settings)
    known = {f.name for f in dataclasses.fields(Settings)}
    for line in unknown_variables(env, known):
        (warn or log.warning)(line)

    layered: dict[str, Any] = _read_toml(config_dir() / "defaults.toml", "defaults file")
    if env.get(ENV_PREFIX + "CONFIG"):
        layered.update(_read_toml(Path(env[ENV_PREFIX + "CONFIG"]), "config file"))
    for name in known:
        env_name = ENV_PREFIX + name.upper()
        if env_name in env:
            layered[name] = env[env_name]

    values: dict[str, Any] = {}
    for key, raw in layered.items():
        if key not in known:
            raise SettingsError(
                f"unknown setting {key!r} in the config file; see config/defaults.toml"
            )
        values[key] = _coerce(key, raw, hints[key])
    missing = sorted(known - set(values))
    if missing:
        raise SettingsError(
            f"config/defaults.toml lacks {', '.join(missing)}; reinstall Paperround"
        )
    values["data_dir"] = _absolute(values["data_dir"])
    settings = Settings(**values)
    _validate(settings)
    return settings
