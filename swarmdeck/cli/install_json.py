"""Merging swarmdeck's hooks into an agent CLI's JSON settings, safely.

Claude Code (``.claude/settings.json``), Codex (``hooks.json``) and Gemini CLI
(``.gemini/settings.json``) all keep hooks as ``{"hooks": {<event>: [<group>, ...]}}``
where a group holds ``hooks: [<handler>, ...]``. So one merge serves all three:

* idempotent: a second run changes nothing (and writes no backup);
* every unrelated setting and hook is kept, in its order; our group of an event is
  replaced where it stands, our handlers found inside the user's groups are removed;
* a timestamped backup is written before an existing file changes, and the new file
  replaces the old one atomically (same mode);
* a file that is not valid JSON, or whose ``hooks`` has another shape, is refused and
  left untouched.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click


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


def is_ours(handler: Any, marker: str, url_marker: str | None = None) -> bool:
    """A handler we installed: a command (``marker`` is `` hook <vendor>``), whatever the
    path of the executable, or an http hook whose URL holds ``url_marker`` (its path)."""
    if not isinstance(handler, dict):
        return False
    if handler.get("type") == "command":
        return isinstance(handler.get("command"), str) and marker in handler["command"]
    if handler.get("type") == "http" and url_marker is not None:
        return isinstance(handler.get("url"), str) and url_marker in handler["url"]
    return False


def merge_hooks(
    settings: dict[str, Any],
    groups: dict[str, dict[str, Any]],
    where: str,
    marker: str,
    *,
    url_marker: str | None = None,
) -> dict[str, Any]:
    """A copy of ``settings`` with our hook groups in place; everything else kept.

    Raises:
        InstallError: the file's shape is not what the CLI reads (named).
    """

    def ours(handler: Any) -> bool:
        return is_ours(handler, marker, url_marker)

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
            if not isinstance(handlers, list) or not any(ours(h) for h in handlers):
                kept.append(entry)
                continue
            if all(ours(h) for h in handlers):
                if not placed:
                    kept.append(copy.deepcopy(group))
                    placed = True
                continue  # a duplicate of ours: dropped
            kept.append({**entry, "hooks": [h for h in handlers if not ours(h)]})
        if not placed:
            kept.append(copy.deepcopy(group))
        hooks[event] = kept
    return merged


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


def write_atomically(path: Path, text: str, *, private: bool = False) -> None:
    """Replace ``path`` with ``text`` (same mode); ``private`` (a secret inside) makes it 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    if private:
        mode = 0o600
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


def install_hooks(
    path: Path,
    groups: dict[str, dict[str, Any]],
    marker: str,
    *,
    url_marker: str | None = None,
    private: bool = False,
    now: float | None = None,
) -> tuple[bool, Path | None]:
    """Merge ``groups`` into the JSON settings at ``path``; returns (changed, backup path).

    Args:
        url_marker: also recognise our http hooks, by this part of their URL.
        private: the groups hold a secret: the file (and its backup) are made 0600.
    """
    current, original = read_settings(path)
    merged = merge_hooks(current, groups, str(path), marker, url_marker=url_marker)
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
        if private:
            os.chmod(backup, 0o600)
    text = json.dumps(merged, indent=2, ensure_ascii=False) + "\n"
    write_atomically(path, text, private=private)
    return True, backup
