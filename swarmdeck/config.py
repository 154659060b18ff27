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
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
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


#: URL schemes of a database on a server (the store's ``is_postgres_url`` says the same;
#: configuration sits below the store, so it cannot ask it).
DATABASE_URL_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(text: str) -> bool:
    """Whether ``db`` names a server's database (a URL) rather than a file."""
    return text.lower().startswith(DATABASE_URL_SCHEMES)


def default_config_path() -> Path:
    env = os.environ.get("SWARMDECK_CONFIG")
    return Path(env).expanduser() if env else default_config_dir() / "config.toml"


#: Lease names of the once-per-database services; no adapter instance may be named so.
SERVICE_LEASES = ("policy", "anchor", "notify", "retention")


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
    lease_ttl: float = Field(default=6.0, ge=1.0, le=300.0)
    """Seconds a collector's lease on an adapter instance or service lasts unrenewed: when its
    host dies, another collector takes over after at most this plus ``lease_renew``."""
    lease_renew: float = Field(default=2.0, ge=0.1, le=100.0)
    """Seconds between lease renewals (and a standby collector's takeover attempts)."""

    @model_validator(mode="after")
    def _renew_within_ttl(self) -> CollectorSettings:
        if self.lease_renew * 2 > self.lease_ttl:
            raise ValueError(
                f"lease_renew ({self.lease_renew:g}s) must be at most half of lease_ttl "
                f"({self.lease_ttl:g}s): one missed renewal must not lose the lease"
            )
        return self


class HookSettings(_Section):
    """Hook commands (``swarmdeck hook claude-code|codex|gemini``)."""

    timeout: float = Field(default=600.0, gt=0)
    """Seconds to wait for a manager's decision before answering with the default."""
    default: Literal["deny", "allow", "ask"] = "deny"
    """The answer when no decision comes in time or the store cannot be reached."""
    pretool_matcher: str = "Bash|Edit|Write|MultiEdit|NotebookEdit|WebFetch|mcp__(?!swarmdeck__).*"
    """Claude Code tools whose PreToolUse waits for a manager (a regular expression on the
    tool name); other tools only update the agent's activity. The default is every tool
    that changes or sends something, MCP tools included but swarmdeck's own."""
    codex_matcher: str = "Bash|Edit|Write|mcp__.*"
    """Codex tools whose PreToolUse waits for a manager (``apply_patch`` also matches
    ``Edit``/``Write``). Codex reads it as a Rust regex, which has no look-around: a
    matcher it cannot parse makes it skip the hook and run the call."""
    gemini_matcher: str = "run_shell_command|write_file|replace|mcp_.*"
    """Gemini CLI tools whose BeforeTool waits for a manager (a regular expression)."""
    own_mcp_servers: list[str] = Field(default_factory=lambda: ["swarmdeck"])
    """The names swarmdeck's own MCP server is registered under in the agents' CLIs
    (``claude mcp add swarmdeck -- swarmdeck mcp``): their tools (``request_approval``,
    ``report_status``) are never gated by a hook, whatever the matcher: they ask the
    manager themselves."""
    review_stop: bool = False
    """Also hold Claude Code's and Codex's Stop/SubagentStop for a manager: approve lets it
    stop, retry keeps it working with the manager's reason as its next instruction."""
    servers: list[str] = Field(default_factory=list, max_length=20)
    """Collectors' hook endpoints (``http(s)://host:7342/hooks/claude-code``) the hook hands
    its calls to instead of a local store (agents on hosts without a collector), tried in
    order while one cannot be reached; ``--server`` overrides. Any failure answers deny."""


_SEVERITY = Literal["low", "normal", "high", "critical"]
_TRIGGER = Literal["escalation", "deadline", "budget", "adapter"]
_TRIGGERS: tuple[_TRIGGER, ...] = ("escalation", "deadline", "budget", "adapter")
#: ``0`` (at once) or a number with a unit; converted where it is used.
_DURATION = r"^\s*(0|\d+(\.\d+)?\s*(ms|s|m|h|d|w))\s*$"
_CLOCK_SPAN = r"^\s*([01]?\d|2[0-3]):[0-5]\d\s*-\s*([01]?\d|2[0-3]):[0-5]\d\s*$"


class NotifyRoute(_Section):
    """One ``[[notify]]`` entry: a channel that pushes reach, and which pushes go there."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    """Route name: in ``swarmdeck notify test NAME``, the health view and the audit."""
    url: SecretStr
    """Any apprise URL (``ntfys://host/topic``, ``slack://...``, ``mailto://...``,
    ``json://host/path``): it holds credentials, so it is never printed."""
    enabled: bool = True
    min_severity: _SEVERITY = "normal"
    """Only escalations at least this severe."""
    kind: list[str] = Field(default_factory=list)
    """Escalation kinds (globs: ``approval``, ``guard*``); empty means any."""
    agent: list[str] = Field(default_factory=list)
    """Agent names (globs); empty means any."""
    workflow: list[str] = Field(default_factory=list)
    """Workflow names (globs); empty means any."""
    vendor: list[str] = Field(default_factory=list)
    """Agent vendors (globs, e.g. ``claude-code``); empty means any."""
    on: list[_TRIGGER] = Field(default_factory=lambda: list(_TRIGGERS))
    """What pushes: an escalation waiting past ``after``, a deadline approaching, a budget
    crossed, an adapter down."""
    after: str = Field(default="0", pattern=_DURATION)
    """Push only once an escalation has waited this long (``0`` = at once)."""
    deadline_warning: str = Field(default="5m", pattern=_DURATION)
    """With ``deadline`` in ``on``: push this long before an escalation's deadline."""
    digest_window: str = Field(default="30s", pattern=_DURATION)
    """After a push, what else comes within this window is folded into one digest."""
    quiet_hours: str | None = Field(default=None, pattern=_CLOCK_SPAN)
    """Hold pushes in this local-time span (``22:00-07:00``); they go out as one digest at
    its end."""
    quiet_severity: _SEVERITY = "critical"
    """Escalations at least this severe still push during quiet hours."""
    timezone: str | None = None
    """Time zone of ``quiet_hours`` (``Europe/Paris``); unset: the machine's."""
    owner: str | None = Field(default=None, min_length=1, max_length=200)
    """Who decides through this route's action links (``alice@example.com``): recorded as
    the decision's actor, ``<owner> via notify:<name>``. Unset: links only open."""
    actions: bool = True
    """Carry action links (approve, reject with a reason, open) when ``[action_links]`` is on."""

    @field_validator("kind", "agent", "workflow", "vendor", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class ActionLinkSettings(_Section):
    """The page that action links in pushes open: approve, reject with a reason, open."""

    enabled: bool = False
    """Serve the page from the collector and put signed links in pushes."""
    host: str = "127.0.0.1"
    """Address to listen on; anything but loopback needs ``allow_remote``."""
    port: int = Field(default=7345, ge=0, le=65535)
    """Port to listen on (0 picks a free one)."""
    allow_remote: bool = False
    """Allow a non-loopback ``host`` (a phone on the network reaches it directly)."""
    public_url: str | None = Field(default=None, pattern=r"^https?://[^/\s]+(/\S*)?$")
    """Where links point (a tunnel or reverse proxy in front of the page, e.g.
    ``https://deck.example.ts.net``); unset: ``http://host:port``."""
    ttl: str = Field(default="1h", pattern=_DURATION)
    """How long a link stays valid."""
    key_file: Path | None = None
    """The HMAC key that signs links (created 0600); unset: ``action-links.key`` beside the
    database. Kept outside the database so a copy of the database cannot mint links."""
    read_only: bool = False
    """Links open escalations but never decide (``[tui] read_only`` does the same)."""


class AuditSettings(_Section):
    """The audit chain's anchor: signed checkpoints of its head, kept outside the database."""

    anchor_file: Path | None = None
    """Append-only file that ``swarmdeck audit anchor`` and the collector append signed
    checkpoints to (put it where the database's writers cannot rewrite it); unset: the
    collector writes none."""
    anchor_interval: float = Field(default=3600.0, ge=1)
    """Seconds between the collector's checkpoints (written only when the chain grew)."""
    signing_key: Path | None = None
    """The Ed25519 signing key (PEM, 0600, created on first use); default
    ``audit-signing.key`` in the data directory, beside the database but not in it."""

    @field_validator("anchor_file", "signing_key", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None


class ServerSettings(_Section):
    """What every HTTP listener shares (the ``claude-code`` and ``mcp`` adapters)."""

    token_file: Path | None = None
    """Where the listeners' bearer token is kept (created 0600 on first use); default: ``token``
    in the data directory. ``SWARMDECK_TOKEN`` overrides it. ``swarmdeck token show`` prints
    it, ``swarmdeck token rotate`` replaces it."""

    def effective_token_file(self) -> Path:
        return (self.token_file or default_data_dir() / "token").expanduser()


class Settings(BaseSettings):
    """Every setting of swarmdeck."""

    model_config = SettingsConfigDict(
        env_prefix="SWARMDECK_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    db: Path | str = Field(default_factory=default_db_path)
    """The database: a SQLite file (created 0600 in a 0700 directory), or a
    ``postgresql://user@host/dbname`` URL (a database a team shares)."""
    identity: str | None = Field(default=None, min_length=1, max_length=200)
    """Who decides, as recorded on decisions (``alice``); default ``$USER@host``, plus the SSH
    client. The host a decision came from is recorded beside it either way."""
    actor: str | None = None
    """Older name of ``identity`` (used when ``identity`` is unset)."""
    adapters: list[AdapterConfig] = Field(default_factory=list)
    """Configured adapter instances (``[[adapters]]``)."""
    demo: DemoSettings = Field(default_factory=DemoSettings)
    tui: TuiSettings = Field(default_factory=TuiSettings)
    collector: CollectorSettings = Field(default_factory=CollectorSettings)
    hooks: HookSettings = Field(default_factory=HookSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    policy: dict[str, Any] = Field(default_factory=dict)
    """Escalation paths: ``[[policy.rules]]`` (see the README)."""
    guardrails: dict[str, Any] = Field(default_factory=dict)
    """Secret and personal-data detectors, patterns, allowlists, budgets."""
    notify: list[NotifyRoute] = Field(default_factory=list)
    """Push routes (``[[notify]]``): escalations, deadlines, budgets, adapters down."""
    action_links: ActionLinkSettings = Field(default_factory=ActionLinkSettings)

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
    def _expand(cls, value: Path | str) -> Path | str:
        if isinstance(value, str) and is_database_url(value):
            return value
        return Path(value).expanduser()

    @property
    def db_is_url(self) -> bool:
        """Whether the database is a server's (PostgreSQL) rather than a local file."""
        return isinstance(self.db, str)

    @property
    def local_dir(self) -> Path:
        """Where this host keeps what belongs beside the database but never in it (the
        action-link key, the web token, the collector lock): the SQLite file's directory,
        or the data directory when the database is on a server."""
        return self.db.parent if isinstance(self.db, Path) else default_data_dir()

    @field_validator("adapters", mode="after")
    @classmethod
    def _unique_names(cls, value: list[AdapterConfig]) -> list[AdapterConfig]:
        seen: set[str] = set()
        for adapter in value:
            if adapter.name in SERVICE_LEASES:
                raise ValueError(
                    f"adapter name {adapter.name!r} is reserved (a service has it: "
                    f"{', '.join(SERVICE_LEASES)})"
                )
            if adapter.name in seen:
                raise ValueError(f"two adapters are named {adapter.name!r}")
            seen.add(adapter.name)
        return value

    @field_validator("notify", mode="after")
    @classmethod
    def _unique_routes(cls, value: list[NotifyRoute]) -> list[NotifyRoute]:
        names = [route.name for route in value]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two notify routes are named {name!r}")
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
