"""The installed Claude Code's version, and whether swarmdeck's hooks can trust it.

swarmdeck's gates rely on two things only newer Claude Code does, both checked with the
real CLI (issue 10): ``onFailure: "block"`` (a hook that is killed, crashes or outlives
its timeout blocks the tool call; 2.1.197 silently ignores it and lets the command run)
and PermissionRequest hooks in ``-p`` mode (2.1.197 never fires them). Below
:data:`MINIMUM` the install refuses unless forced; when the version cannot be read it
installs and says so plainly.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

#: The oldest Claude Code known to fail closed and to ask PermissionRequest hooks in -p.
MINIMUM = (2, 1, 332)
MINIMUM_TEXT = ".".join(map(str, MINIMUM))
#: Seconds ``claude --version`` may take (it only prints; a first run may be slower).
VERSION_TIMEOUT = 20.0

_VERSION = re.compile(r"\b(\d+)\.(\d+)\.(\d+)\b")


@dataclass(frozen=True, slots=True)
class Found:
    """What ``claude --version`` said: the version, or why there is none."""

    version: tuple[int, int, int] | None
    problem: str = ""
    """Why no version could be read (not found, failed, unreadable output)."""

    @property
    def text(self) -> str:
        return ".".join(map(str, self.version)) if self.version else "unknown"


def parse_version(output: str) -> tuple[int, int, int] | None:
    """``2.1.332 (Claude Code)`` -> ``(2, 1, 332)``; None when there is no version in it."""
    match = _VERSION.search(output)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def installed_version(executable: str = "claude") -> Found:
    """Run ``<executable> --version`` (looked up on PATH unless it is a path)."""
    path = shutil.which(executable)
    if path is None:
        return Found(None, f"{executable!r} was not found on PATH")
    try:
        done = subprocess.run(  # noqa: S603 - the user's own claude executable, no shell
            [path, "--version"],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Found(None, f"`{path} --version` failed ({type(exc).__name__}: {exc})")
    version = parse_version(done.stdout) if done.returncode == 0 else None
    if version is None:
        said = " ".join((done.stdout + done.stderr).split())[:200] or "nothing"
        return Found(None, f"`{path} --version` exited {done.returncode} and said {said!r}")
    return Found(version)


def too_old_message(found: Found) -> str:
    return (
        f"Claude Code {found.text} is older than {MINIMUM_TEXT}, the first version known to "
        'honour onFailure: "block" (older ones let the tool call run when the hook is killed '
        "or times out) and to ask PermissionRequest hooks in -p mode. Upgrade Claude Code "
        "(npm install -g @anthropic-ai/claude-code), or pass --force to install anyway."
    )


def unknown_message(found: Found) -> str:
    return (
        f"warning: could not read the installed Claude Code's version: {found.problem}. "
        f"swarmdeck's hooks fail closed only with Claude Code {MINIMUM_TEXT} or newer; "
        "check with `claude --version` (or point --claude at the executable)."
    )
