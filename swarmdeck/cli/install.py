"""``swarmdeck install claude-code``: merge swarmdeck's hooks into Claude Code's settings.

Idempotent (a second run changes nothing), keeps every unrelated setting and
hook, writes a timestamped backup before changing an existing file, and refuses
to touch a file that is not valid JSON.
"""

from __future__ import annotations

import copy
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from swarmdeck.cli._common import Obj, common_options
from swarmdeck.cli._settings import settings_from
from swarmdeck.config import is_database_url

#: Recognises a handler we installed, whatever the path of the executable.
MARKER = " hook claude-code"
#: Events that only update the agent row: a short timeout is plenty.
STATUS_TIMEOUT = 30


class InstallError(click.ClickException):
    """The settings file cannot be merged; it was left untouched."""


def swarmdeck_executable() -> str:
    """The absolute path of the running ``swarmdeck`` (hooks run without our PATH)."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "swarmdeck":
        found = shutil.which(str(argv0)) if not argv0.is_absolute() else str(argv0)
        if found:
            return str(Path(found).resolve())
    sibling = Path(sys.executable).parent / "swarmdeck"
    if sibling.exists():
        return str(sibling)
    return shutil.which("swarmdeck") or "swarmdeck"


def hook_command(executable: str, db: Path | str | None = None, config: Path | None = None) -> str:
    parts = [shlex.quote(executable), "hook", "claude-code"]
    if isinstance(db, str) and is_database_url(db):
        parts += ["--db", shlex.quote(db)]
    elif db is not None:
        parts += ["--db", shlex.quote(str(Path(db).expanduser().resolve()))]
    if config is not None:
        parts += ["--config", shlex.quote(str(config.expanduser().resolve()))]
    return " ".join(parts)


def desired_groups(command: str, matcher: str, timeout: int) -> dict[str, dict[str, Any]]:
    """The one hook group per event that swarmdeck needs."""

    def handler(seconds: int) -> dict[str, Any]:
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
    }


def _ours(handler: Any) -> bool:
    return (
        isinstance(handler, dict)
        and handler.get("type") == "command"
        and isinstance(handler.get("command"), str)
        and MARKER in handler["command"]
    )


def merge_hooks(
    settings: dict[str, Any], groups: dict[str, dict[str, Any]], where: str
) -> dict[str, Any]:
    """A copy of ``settings`` with our hook groups in place; everything else kept.

    Our existing group of an event is replaced where it stands (so the order of
    the user's own hooks never changes); our handlers found inside the user's
    groups are removed from there; a missing group is appended.

    Raises:
        InstallError: the file's shape is not what Claude Code reads (named).
    """
    merged = copy.deepcopy(settings)
    hooks = merged.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise InstallError(f"{where}: 'hooks' is not a JSON object; left untouched")
    for event, group in groups.items():
        entries = hooks.setdefault(event, [])
        if not isinstance(entries, list):
            raise InstallError(f"{where}: 'hooks.{event}' is not a list; left untouched")
        placed = False
        kept: list[Any] = []
        for entry in entries:
            handlers = entry.get("hooks") if isinstance(entry, dict) else None
            if not isinstance(handlers, list) or not any(_ours(h) for h in handlers):
                kept.append(entry)
                continue
            if all(_ours(h) for h in handlers):
                if not placed:
                    kept.append(copy.deepcopy(group))
                    placed = True
                continue  # a duplicate of ours: dropped
            kept.append({**entry, "hooks": [h for h in handlers if not _ours(h)]})
        if not placed:
            kept.append(copy.deepcopy(group))
        hooks[event] = kept
    return merged


def settings_path(project: Path | None, user: bool, local: bool) -> Path:
    if user:
        return Path.home() / ".claude" / "settings.json"
    root = (project or Path.cwd()).expanduser().resolve()
    return root / ".claude" / ("settings.local.json" if local else "settings.json")


def read_settings(path: Path) -> tuple[dict[str, Any], str | None]:
    """(parsed settings, original text) — ``({}, None)`` when the file does not exist."""
    if not path.exists():
        return {}, None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InstallError(f"{path}: cannot read ({exc.strerror})") from None
    if not text.strip():
        return {}, text
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InstallError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "left untouched, fix it and run again"
        ) from None
    if not isinstance(data, dict):
        raise InstallError(f"{path}: expected a JSON object at the top level; left untouched")
    return data, text


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def install_claude_code(
    path: Path, command: str, matcher: str, timeout: int, *, now: float | None = None
) -> tuple[bool, Path | None]:
    """Merge our hooks into ``path``; returns (changed, backup path)."""
    current, original = read_settings(path)
    merged = merge_hooks(current, desired_groups(command, matcher, timeout), str(path))
    if original is not None and merged == current:
        return False, None
    backup = None
    if original is not None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        backup = path.with_name(f"{path.name}.bak-{stamp}")
        n = 1
        while backup.exists():
            n += 1
            backup = path.with_name(f"{path.name}.bak-{stamp}-{n}")
        shutil.copy2(path, backup)
    write_atomically(path, json.dumps(merged, indent=2, ensure_ascii=False) + "\n")
    return True, backup


@click.group("install")
def install() -> None:
    """Connect agent tools to swarmdeck."""


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
@click.option(
    "--timeout",
    type=click.IntRange(min=1),
    help="Claude Code's hook timeout in seconds (default: hooks.timeout + 60).",
)
@click.pass_context
def claude_code(
    ctx: click.Context,
    project: Path | None,
    user: bool,
    local: bool,
    matcher: str | None,
    timeout: int | None,
) -> None:
    """Add swarmdeck's hooks to Claude Code's settings (idempotent, with a backup).

    PermissionRequest and PreToolUse (for the matched tools) then wait for a
    manager's decision in swarmdeck; Notification, Stop and SubagentStop keep the
    session's agent row current.
    """
    if user and (project is not None or local):
        raise click.UsageError("--user cannot be combined with --project or --local")
    settings = settings_from(ctx)
    obj = ctx.find_object(Obj)
    command = hook_command(
        swarmdeck_executable(),
        db=obj.db if obj is not None else None,
        config=obj.config if obj is not None else None,
    )
    path = settings_path(project, user, local)
    # Headroom over our own wait: opening a busy store and withdrawing on timeout take time.
    seconds = timeout or int(settings.hooks.timeout) + 60
    changed, backup = install_claude_code(
        path, command, matcher or settings.hooks.pretool_matcher, seconds
    )
    if not changed:
        click.echo(f"swarmdeck hooks already installed in {path}; nothing changed")
        return
    click.echo(f"installed swarmdeck hooks into {path}")
    if backup is not None:
        click.echo(f"previous settings kept in {backup}")
    click.echo(f"hook command: {command} (timeout {seconds}s)")
