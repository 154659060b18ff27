"""``swarmdeck install claude-code|codex|gemini``: connect an agent CLI's hooks to swarmdeck.

Each command merges swarmdeck's hook groups into that CLI's JSON settings
(:mod:`.install_json`: idempotent, everything else kept, a backup before a change,
an invalid file left untouched) and says what the user still has to do.

Every hook that can approve gets a timeout longer than swarmdeck's own wait
(``hooks.timeout`` + 60 s): opening a busy store and withdrawing an escalation on
timeout take time, and a CLI that kills the hook first lets the call through (Codex,
Gemini) or treats it as failed.

Claude Code gets one of two kinds of hook: the command (``swarmdeck hook claude-code``,
the default) or, with ``--http``, its http hook posting to the collector's
``claude-code`` adapter. Both fail closed: approval hooks carry ``onFailure: "block"``,
so a hook that crashes, is killed or cannot connect blocks the tool call instead of
letting it through. The http hook sends ``Authorization: Bearer $SWARMDECK_TOKEN``,
filled in by Claude Code from its environment (``allowedEnvVars``), so no secret lands
in a settings file that may be committed; ``--embed-token`` writes the token itself
instead, into a local or user settings file only, made 0600.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

import click

from swarmdeck.cli import claude_version
from swarmdeck.cli._common import EXIT_ERROR, CliError, Obj, common_options
from swarmdeck.cli._settings import settings_from
from swarmdeck.cli.install_json import InstallError, install_hooks, swarmdeck_executable
from swarmdeck.cli.install_json import merge_hooks as _merge
from swarmdeck.config import Settings, is_database_url
from swarmdeck.tokens import ENV as TOKEN_ENV
from swarmdeck.tokens import TokenError, from_env, load_or_create

__all__ = [
    "InstallError",
    "desired_groups",
    "merge_hooks",
]

#: Recognises a Claude Code handler we installed, whatever the path of the executable.
MARKER = " hook claude-code"
#: ... or the URL path of the collector's hook endpoint (an http hook we installed).
HTTP_MARKER = "/hooks/claude-code"
#: Where an http hook posts when no claude-code adapter is configured.
DEFAULT_HOOK_URL = "http://127.0.0.1:7342/hooks/claude-code"
#: Claude Code fills ``${SWARMDECK_TOKEN}`` in the http hook's header from its environment.
TOKEN_HEADER = "Bearer ${" + TOKEN_ENV + "}"
#: Events that only update the agent row: a short timeout is plenty.
STATUS_TIMEOUT = 30
#: Headroom over our own wait: opening a busy store and withdrawing on timeout take time.
HEADROOM = 60
#: Look-ahead and look-behind, which Codex's (Rust) regular expressions cannot parse.
LOOK_AROUND = re.compile(r"\(\?<?[=!]")


def hook_command(
    executable: str,
    db: Path | str | None = None,
    config: Path | None = None,
    vendor: str = "claude-code",
) -> str:
    parts = [shlex.quote(executable), "hook", vendor]
    if isinstance(db, str) and is_database_url(db):
        parts += ["--db", shlex.quote(db)]
    elif db is not None:
        parts += ["--db", shlex.quote(str(Path(db).expanduser().resolve()))]
    if config is not None:
        parts += ["--config", shlex.quote(str(config.expanduser().resolve()))]
    return " ".join(parts)


def http_handler(url: str, token: str | None = None) -> dict[str, Any]:
    """An http hook posting to the collector, with the bearer token (or its variable)."""
    if token is not None:
        return {"type": "http", "url": url, "headers": {"Authorization": f"Bearer {token}"}}
    return {
        "type": "http",
        "url": url,
        "headers": {"Authorization": TOKEN_HEADER},
        "allowedEnvVars": [TOKEN_ENV],
    }


def desired_groups(
    command: str, matcher: str, timeout: int, *, http: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """The one hook group per event that swarmdeck needs in Claude Code (command hooks,
    or the ``http`` handler)."""

    def handler(seconds: int) -> dict[str, Any]:
        if http is not None:
            return {**http, "timeout": seconds}
        return {"type": "command", "command": command, "timeout": seconds}

    def gate(seconds: int) -> dict[str, Any]:
        # A hook that crashes, is killed or outlives Claude Code's timeout must block
        # the tool call, not let it through: approval hooks fail closed.
        return {**handler(seconds), "onFailure": "block"}

    return {
        "PermissionRequest": {"matcher": "*", "hooks": [gate(timeout)]},
        "PreToolUse": {"matcher": matcher, "hooks": [gate(timeout)]},
        "Notification": {"hooks": [handler(STATUS_TIMEOUT)]},
        "Stop": {"hooks": [handler(timeout)]},
        "SubagentStop": {"hooks": [handler(timeout)]},
        # The session is over: its agent goes offline and frees its name, so the next
        # run in the same directory is claude:<dir> again, not claude:<dir>#<suffix>.
        "SessionEnd": {"hooks": [handler(STATUS_TIMEOUT)]},
    }


def merge_hooks(
    settings: dict[str, Any], groups: dict[str, dict[str, Any]], where: str
) -> dict[str, Any]:
    """Claude Code's settings with our groups merged (see :func:`.install_json.merge_hooks`)."""
    return _merge(settings, groups, where, MARKER, url_marker=HTTP_MARKER)


def codex_groups(command: str, matcher: str, timeout: int) -> dict[str, dict[str, Any]]:
    """Codex's hook groups: two gates, and the events that keep the agent row current."""
    waiting = "waiting for a swarmdeck manager"

    def handler(seconds: int, message: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "command", "command": command, "timeout": seconds}
        if message:
            out["statusMessage"] = message
        return out

    return {
        "PermissionRequest": {"matcher": "*", "hooks": [handler(timeout, waiting)]},
        "PreToolUse": {"matcher": matcher, "hooks": [handler(timeout, waiting)]},
        "SessionStart": {"hooks": [handler(STATUS_TIMEOUT)]},
        "UserPromptSubmit": {"hooks": [handler(STATUS_TIMEOUT)]},
        "Stop": {"hooks": [handler(timeout)]},
        "SubagentStop": {"hooks": [handler(timeout)]},
        "SessionEnd": {"hooks": [handler(STATUS_TIMEOUT)]},
    }


def gemini_groups(command: str, matcher: str, timeout: int) -> dict[str, dict[str, Any]]:
    """Gemini CLI's hook groups; its timeouts are milliseconds (60 000 unless set)."""

    def handler(seconds: int) -> dict[str, Any]:
        return {"name": "swarmdeck", "type": "command", "command": command,
                "timeout": seconds * 1000}  # fmt: skip

    status = {"hooks": [handler(STATUS_TIMEOUT)]}
    return {
        "BeforeTool": {"matcher": matcher, "sequential": False, "hooks": [handler(timeout)]},
        "SessionStart": status,
        "BeforeAgent": status,
        "AfterAgent": status,
        "Notification": status,
        "SessionEnd": status,
    }


def _command(ctx: click.Context, vendor: str) -> str:
    obj = ctx.find_object(Obj)
    return hook_command(
        swarmdeck_executable(),
        db=obj.db if obj is not None else None,
        config=obj.config if obj is not None else None,
        vendor=vendor,
    )


def _report(
    path: Path,
    changed: bool,
    backup: Path | None,
    command: str,
    timeout: str,
    kind: str = "hook command",
) -> bool:
    if not changed:
        click.echo(f"swarmdeck hooks already installed in {path}; nothing changed")
        return False
    click.echo(f"installed swarmdeck hooks into {path}")
    if backup is not None:
        click.echo(f"previous settings kept in {backup}")
    click.echo(f"{kind}: {command} (timeout {timeout})")
    return True


@click.group("install")
def install() -> None:
    """Connect agent tools to swarmdeck."""


_TIMEOUT = click.option(
    "--timeout",
    type=click.IntRange(min=1),
    help="The CLI's hook timeout in seconds (default: hooks.timeout + 60).",
)


@install.command("claude-code")
@common_options
@click.option(
    "--project",
    type=click.Path(path_type=Path, file_okay=False),
    help="Project directory (default: the current one); writes .claude/settings.json there.",
)
@click.option("--user", is_flag=True, help="Install for every project (~/.claude/settings.json).")
@click.option(
    "--local", is_flag=True, help="Write .claude/settings.local.json (not committed to git)."
)
@click.option(
    "--matcher", help="PreToolUse tools that wait for a manager (default: hooks setting)."
)
@_TIMEOUT
@click.option(
    "--claude",
    "claude_exe",
    default="claude",
    show_default=True,
    help="The Claude Code executable whose version is checked.",
)
@click.option(
    "--force",
    is_flag=True,
    help=f"Install even for a Claude Code older than {claude_version.MINIMUM_TEXT} "
    "(whose failed hooks let the call run).",
)
@click.option(
    "--http",
    "http_url",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[URL]",
    help="Use Claude Code's http hook, posting to the collector's claude-code adapter "
    f"(default URL: the configured adapter's, else {DEFAULT_HOOK_URL}).",
)
@click.option(
    "--embed-token",
    is_flag=True,
    help="With --http: write the token itself into the settings file (only with --local or "
    "--user; the file is made 0600) instead of ${SWARMDECK_TOKEN}.",
)
@click.pass_context
def claude_code(
    ctx: click.Context,
    project: Path | None,
    user: bool,
    local: bool,
    matcher: str | None,
    timeout: int | None,
    claude_exe: str,
    force: bool,
    http_url: str | None,
    embed_token: bool,
) -> None:
    """Add swarmdeck's hooks to Claude Code's settings (idempotent, with a backup).

    PermissionRequest and PreToolUse (for the matched tools) then wait for a
    manager's decision in swarmdeck; Notification, Stop and SubagentStop keep the
    session's agent row current, and SessionEnd marks it offline. Approval hooks
    fail closed (onFailure: block), command and http hooks alike.

    Refuses (exit 2) a Claude Code older than the first version that fails closed,
    unless --force; warns when its version cannot be read.
    """
    if user and (project is not None or local):
        raise click.UsageError("--user cannot be combined with --project or --local")
    if embed_token and http_url is None:
        raise click.UsageError("--embed-token only applies with --http")
    if embed_token and not (user or local):
        raise click.UsageError(
            "--embed-token needs --local or --user: a project's settings.json is usually "
            "committed, and the token must not be"
        )
    found = claude_version.installed_version(claude_exe)
    if found.version is None:
        click.echo(claude_version.unknown_message(found), err=True)
    elif found.version < claude_version.MINIMUM:
        if not force:
            raise CliError(claude_version.too_old_message(found), EXIT_ERROR)
        click.echo(f"warning (--force): {claude_version.too_old_message(found)}", err=True)
    settings = settings_from(ctx)
    command = _command(ctx, "claude-code")
    if user:
        path = Path.home() / ".claude" / "settings.json"
    else:
        root = (project or Path.cwd()).expanduser().resolve()
        path = root / ".claude" / ("settings.local.json" if local else "settings.json")
    seconds = timeout or int(settings.hooks.timeout) + HEADROOM
    http: dict[str, Any] | None = None
    if http_url is not None:
        url = http_url or hook_url(settings)
        if not url.startswith(("http://", "https://")):
            raise click.UsageError(f"--http {url!r}: expected an http:// or https:// URL")
        try:  # the collector needs it anyway; made now so `swarmdeck token show` has it
            token = from_env() or load_or_create(settings.server.effective_token_file())
        except TokenError as exc:
            raise CliError(str(exc), EXIT_ERROR) from None
        http = http_handler(url, token if embed_token else None)
    matched = matcher or settings.hooks.pretool_matcher
    groups = desired_groups(command, matched, seconds, http=http)
    changed, backup = install_hooks(
        path, groups, MARKER, url_marker=HTTP_MARKER, private=embed_token
    )
    if http is None:
        _report(path, changed, backup, command, f"{seconds}s")
        return
    shown = f"POST {http['url']}"
    timing = f"{seconds}s, onFailure: block"
    if _report(path, changed, backup, shown, timing, "http hook") and not embed_token:
        click.echo(
            f"Claude Code sends the token from ${TOKEN_ENV}: start it with "
            f'{TOKEN_ENV}="$(swarmdeck token show)" in its environment'
        )


def hook_url(settings: Settings) -> str:
    """The URL of the configured claude-code adapter, else :data:`DEFAULT_HOOK_URL`.

    Raises:
        click.UsageError: the adapter listens on every address: only the user knows the
            name clients reach it by (one of its ``allowed_hosts``).
    """
    for entry in settings.adapters:
        if entry.type == "claude-code" and entry.enabled:
            options = entry.options()
            host = str(options.get("host", "127.0.0.1"))
            if host.strip("[]") in ("0.0.0.0", "::", ""):  # noqa: S104 - every address
                raise click.UsageError(
                    f"the claude-code adapter {entry.name!r} listens on every address "
                    f"({host}): give the URL Claude Code reaches it by, --http URL"
                )
            host = f"[{host}]" if ":" in host and not host.startswith("[") else host
            port = int(options.get("port", 7342))
            return f"http://{host}:{port}{options.get('path', HTTP_MARKER)}"
    return DEFAULT_HOOK_URL


def codex_home() -> Path:
    """``$CODEX_HOME``, else ``~/.codex`` (where Codex reads user hooks and config)."""
    env = os.environ.get("CODEX_HOME")
    return Path(env).expanduser() if env else Path.home() / ".codex"


@install.command("codex")
@common_options
@click.option(
    "--project",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write <project>/.codex/hooks.json (Codex reads it only in a trusted project) "
    "instead of $CODEX_HOME/hooks.json.",
)
@click.option(
    "--matcher",
    help="PreToolUse tools that wait for a manager (default: hooks.codex_matcher; no "
    "look-around, which Codex cannot parse).",
)
@_TIMEOUT
@click.pass_context
def codex(
    ctx: click.Context, project: Path | None, matcher: str | None, timeout: int | None
) -> None:
    """Add swarmdeck's hooks to Codex CLI's hooks.json (idempotent, with a backup).

    PermissionRequest and PreToolUse (for the matched tools; Codex matches apply_patch
    as Edit/Write too) wait for a manager; SessionStart, UserPromptSubmit, Stop,
    SubagentStop and SessionEnd keep the session's agent row current. Codex runs
    these hooks only after you trust them (see the message at the end).
    """
    settings = settings_from(ctx)
    command = _command(ctx, "codex")
    if project is not None:
        path = project.expanduser().resolve() / ".codex" / "hooks.json"
    else:
        path = codex_home() / "hooks.json"
    seconds = timeout or int(settings.hooks.timeout) + HEADROOM
    matcher = matcher or settings.hooks.codex_matcher
    if LOOK_AROUND.search(matcher):
        raise click.UsageError(
            f"Codex cannot read the matcher {matcher!r}: its regular expressions have no "
            "look-around, and Codex skips a hook whose matcher it cannot parse (the call then "
            "runs unasked). swarmdeck's own MCP tools pass through the hook anyway."
        )
    groups = codex_groups(command, matcher, seconds)
    changed, backup = install_hooks(path, groups, " hook codex")
    _report(path, changed, backup, command, f"{seconds}s")
    click.echo(
        "next: Codex runs user and project hooks only once you trust them, and skips "
        "untrusted ones silently. Start `codex`, type /hooks, and trust swarmdeck's hooks "
        "(again after any change to this file: trust is tied to its content). A headless "
        "`codex exec` can pass --dangerously-bypass-hook-trust for one run instead."
    )
    if project is not None:
        click.echo(f"Codex reads {path} only when it trusts the project {path.parent.parent}.")


@install.command("gemini")
@common_options
@click.option(
    "--project",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write <project>/.gemini/settings.json (a trusted folder only) instead of "
    "~/.gemini/settings.json.",
)
@click.option(
    "--matcher", help="BeforeTool tools that wait for a manager (default: hooks.gemini_matcher)."
)
@_TIMEOUT
@click.pass_context
def gemini(
    ctx: click.Context, project: Path | None, matcher: str | None, timeout: int | None
) -> None:
    """Add swarmdeck's hooks to Gemini CLI's settings.json (idempotent, with a backup).

    BeforeTool (for the matched tools) waits for a manager, with a hook timeout longer
    than swarmdeck's own wait: Gemini's default is 60 s, after which it runs the tool.
    SessionStart, BeforeAgent, AfterAgent, Notification and SessionEnd keep the
    session's agent row current.
    """
    settings = settings_from(ctx)
    command = _command(ctx, "gemini")
    if project is not None:
        path = project.expanduser().resolve() / ".gemini" / "settings.json"
    else:
        path = Path.home() / ".gemini" / "settings.json"
    seconds = timeout or int(settings.hooks.timeout) + HEADROOM
    groups = gemini_groups(command, matcher or settings.hooks.gemini_matcher, seconds)
    changed, backup = install_hooks(path, groups, " hook gemini")
    _report(path, changed, backup, command, f"{seconds}s = {seconds * 1000} ms")
    if project is not None:
        click.echo(
            "Gemini runs workspace hooks only in a trusted folder (it warns once when a "
            "new hook appears); user-level hooks (without --project) need no trust."
        )
