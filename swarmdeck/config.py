"""Configuration: command-line flags > environment > TOML file > defaults.

One pydantic-settings model describes every setting once, with a docstring each.
Environment variables are ``SWARMDECK_<FIELD>``, nested with ``__``
(``SWARMDECK_TUI__THEME=light``). The file is ``--config PATH``, else
``$SWARMDECK_CONFIG``, else ``config.toml`` in the platform config directory.

Secrets (tokens) are ``SecretStr``: printed as ``**********`` everywhere, including
``swarmdeck config``.
"""

from __future__ import annotations

import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

APP_NAME = "swarmdeck"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def default_db_path() -> Path:
    return default_data_dir() / "swarmdeck.db"


def default_config_path() -> Path:
    env = os.environ.get("SWARMDECK_CONFIG")
    return Path(env).expanduser() if env else default_config_dir() / "config.toml"


class ConfigError(Exception):
    """The configuration is invalid; ``str()`` names the file and the field."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AdapterConfig(BaseModel):
    """One ``[[adapters]]`` entry: a named instance of an adapter type plus its options."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    """Instance name: the origin of its events, shown in the adapter list."""
    type: str = Field(min_length=1)
    """Adapter type, as listed by ``swarmdeck adapters``."""
    enabled: bool = True

    def options(self) -> dict[str, Any]:
        """The adapter-specific keys (everything but name, type, enabled)."""
        return dict(self.model_extra or {})


class DemoSettings(_Section):
    """The simulated swarm (the embedded default)."""

    enabled: bool | None = None
    """Run it: unset means "when no adapter is configured"."""
    seed: int = 42
    """Seed for a reproducible swarm."""
    agents: int = Field(default=12, ge=1, le=100_000)
    """How many agents to simulate."""
    rate: float = Field(default=4.0, gt=0, le=100_000)
    """Agent updates per second, across the swarm."""


class TuiSettings(_Section):
    """The terminal app."""

    theme: str = "swarmdeck-dark"
    """Theme name: built-in (swarmdeck-dark, swarmdeck-light, swarmdeck-contrast) or a file in
    the themes folder of the config directory."""
    keymap: dict[str, str] = Field(default_factory=dict)
    """Remap keys by binding id, e.g. ``{"inbox.approve" = "A"}``."""
    bell: bool = True
    """Ring the terminal bell on a new high or critical escalation."""
    toast: bool = True
    """Show a toast on a new high or critical escalation."""
    desktop_notify: bool = False
    """Also send a desktop notification (OSC 9 / OSC 777; travels over SSH and tmux)."""
    read_only: bool = False
    """Observer mode: hide and refuse every decision key."""
    pane: Literal["all", "swarm", "inbox", "workflow"] = "all"
    """Show one pane alone (``--pane inbox``) or all three."""
    decided_visible_minutes: float = Field(default=30.0, ge=0)
    """How long decided escalations stay in the inbox."""
    ascii: bool | None = None
    """Draw with ASCII only (no box-drawing characters or symbols); unset: detect from the
    terminal's encoding (``SWARMDECK_ASCII=1`` also forces it)."""
    confirm_severities: list[Literal["low", "normal", "high", "critical"]] = Field(
        default_factory=lambda: list[Literal["low", "normal", "high", "critical"]](
            ("high", "critical")
        )
    )
    """Approving an escalation of one of these severities asks for a second keystroke
    (``a`` again, ``y`` or enter); ``[]`` never asks."""
    confirm_patterns: str = r"deploy|prod|push --force|force-push|rm -rf|drop"
    """A regular expression, case-insensitive, searched in an escalation's title and body:
    approving one that matches asks for a second keystroke, whatever its severity.
    ``""`` turns it off."""

    @field_validator("confirm_patterns")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value


class CollectorSettings(_Section):
    """The collector: adapters, delivery, policy; exactly one per database."""

    retention_days: float | None = Field(default=None, gt=0)
    """Delete raw events older than this (projections, decisions and audit stay)."""
    restart_backoff_max: float = Field(default=60.0, gt=0)
    """Cap, in seconds, of the delay before restarting a crashed adapter."""
    delivery_backoff_max: float = Field(default=300.0, gt=0)
    """Cap, in seconds, of the delay between delivery attempts of a decision."""
    delivery_max_attempts: int = Field(default=12, ge=1)
    """After this many failed attempts, a delivery is marked failed."""
    spawn: bool = False
    """The TUI starts ``swarmdeck serve`` as a separate process instead of in-process (keeps
    ingest off the UI's core on busy swarms)."""


class HookSettings(_Section):
    """Hook commands (``swarmdeck hook claude-code``)."""

    timeout: float = Field(default=600.0, gt=0)
    """Seconds to wait for a manager's decision before answering with the default."""
    default: Literal["deny", "allow", "ask"] = "deny"
    """The answer when no decision comes in time or the store cannot be reached."""
    pretool_matcher: str = "Bash|Edit|Write|mcp__.*"
    """Tools whose PreToolUse waits for a manager (a regular expression on the tool name);
    other tools only update the agent's activity."""
    review_stop: bool = False
    """Also hold Claude Code's Stop/SubagentStop for a manager: approve lets it stop, retry
    keeps it working with the manager's reason as its next instruction."""


class Settings(BaseSettings):
    """Every setting of swarmdeck."""

    model_config = SettingsConfigDict(
        env_prefix="SWARMDECK_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    db: Path = Field(default_factory=default_db_path)
    """The database file (created 0600 in a 0700 directory)."""
    actor: str | None = None
    """Who decides (``user@host``); default from the login and host, plus the SSH client."""
    adapters: list[AdapterConfig] = Field(default_factory=list)
    """Configured adapter instances (``[[adapters]]``)."""
    demo: DemoSettings = Field(default_factory=DemoSettings)
    tui: TuiSettings = Field(default_factory=TuiSettings)
    collector: CollectorSettings = Field(default_factory=CollectorSettings)
    hooks: HookSettings = Field(default_factory=HookSettings)
    policy: dict[str, Any] = Field(default_factory=dict)
    """Escalation paths: ``[[policy.rules]]`` (see the README)."""
    guardrails: dict[str, Any] = Field(default_factory=dict)
    """Secret and personal-data detectors, patterns, allowlists, budgets."""

    _config_path: Path | None = PrivateAttr(default=None)

    @property
    def config_path(self) -> Path | None:
        """The config file these settings came from, or where the default one would be.

        Whoever writes rules back (the TUI's "decide and make a rule") or watches the
        file for changes (the policy service) uses this, so ``--config X`` is honoured.
        """
        return self._config_path

    @field_validator("db", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("adapters", mode="after")
    @classmethod
    def _unique_names(cls, value: list[AdapterConfig]) -> list[AdapterConfig]:
        seen: set[str] = set()
        for adapter in value:
            if adapter.name in seen:
                raise ValueError(f"two adapters are named {adapter.name!r}")
            seen.add(adapter.name)
        return value

    def demo_enabled(self) -> bool:
        """The demo runs when asked to, or when nothing else is configured."""
        if self.demo.enabled is not None:
            return self.demo.enabled
        return not any(a.enabled for a in self.adapters)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _toml_path.get()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


_toml_path: ContextVar[Path | None] = ContextVar("_toml_path", default=None)


def _describe(exc: ValidationError, file_origin: str, flags: dict[str, Any]) -> str:
    """One line naming, for each bad field, where its value came from: an environment
    variable, a command-line flag, or the file (an environment mistake used to be blamed
    on config.toml)."""
    by_origin: dict[str, list[str]] = {}
    for err in exc.errors(include_url=False):
        path = [str(p) for p in err["loc"]]
        loc = ".".join(path) or "(top level)"
        origin = _origin_of(path, flags) or file_origin
        by_origin.setdefault(origin, []).append(f"{loc}: {err['msg']}")
    return "; ".join(f"{origin}: {'; '.join(parts)}" for origin, parts in by_origin.items())


def _origin_of(path: list[str], flags: dict[str, Any]) -> str | None:
    """``environment SWARMDECK_X__Y`` or ``command line`` when the value at ``path`` came
    from there (the nearest variable that sets it or a section holding it); None for
    the file and defaults."""
    upper = {k.upper(): k for k in os.environ if k.upper().startswith("SWARMDECK_")}
    for n in range(len(path), 0, -1):
        name = "SWARMDECK_" + "__".join(path[:n]).upper()
        if name in upper:
            return f"environment {upper[name]}"
    value: Any = flags
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return "command line"


def load_settings(config: Path | None = None, **flags: Any) -> Settings:
    """Build the effective settings.

    Args:
        config: the TOML file; None uses ``$SWARMDECK_CONFIG`` or the platform default.
            An explicitly named file must exist; the default one may be absent.
        flags: command-line values (None means "not given"), highest precedence.
            Nested sections are given as dicts, e.g. ``tui={"read_only": True}``.

    Raises:
        ConfigError: unreadable or invalid file, or an invalid value (field named).
    """
    explicit = config is not None or "SWARMDECK_CONFIG" in os.environ
    path = (config.expanduser() if config is not None else default_config_path()).resolve()
    if path.exists():
        try:
            with path.open("rb") as fh:
                tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
        token = _toml_path.set(path)
    elif explicit:
        raise ConfigError(f"{path}: no such config file")
    else:
        token = _toml_path.set(None)
    given = {k: v for k, v in flags.items() if v is not None}
    try:
        settings = Settings(**given)
        settings._config_path = path
        return settings
    except ValidationError as exc:
        origin = str(path) if path.exists() else "configuration"
        raise ConfigError(_describe(exc, origin, given)) from None
    finally:
        _toml_path.reset(token)


def redacted(settings: Settings) -> dict[str, Any]:
    """The settings as JSON-able data, secrets masked (what ``swarmdeck config`` prints)."""
    data: dict[str, Any] = _mask(settings.model_dump(mode="json"))
    return data


_SECRET_KEYS = ("token", "secret", "password", "api_key", "apikey", "authorization")


def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, key) for v in value]
    if isinstance(value, str) and value and any(s in key.lower() for s in _SECRET_KEYS):
        return "**********"
    return value
