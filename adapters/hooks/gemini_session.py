"""Whether the Gemini CLI session that runs this hook is interactive: read from the
process tree, with the standard library only (the thin hook client imports it).

Gemini CLI's hook payload does not say whether a person sits at the terminal, and a
hook that answers ``ask`` in a headless run (``gemini -p ...``, a pipe on stdin) hangs
that run for good. So before swarmdeck ever answers ``ask``, it finds the ``gemini``
process among its ancestors and reads how it was started: interactive when it has no
``-p``/``--prompt`` and its stdin is a terminal (or ``-i``/``--prompt-interactive``), or
when it serves an ACP client (``--acp``), which shows its own permission prompt.
Anything else, including "not found" and systems without ``/proc``, counts as headless.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

#: How far up the process tree to look (the hook runs under a shell under node).
MAX_DEPTH = 6

_HEADLESS_FLAGS = ("-p", "--prompt")
_INTERACTIVE_FLAGS = ("-i", "--prompt-interactive", "--acp", "--experimental-acp")
#: Flags whose value is the next word (so that word is not a positional prompt).
_VALUE_FLAGS = frozenset(
    ("-m", "--model", "--approval-mode", "--policy", "-e", "--extensions",
     "--include-directories", "-o", "--output-format", "--allowed-tools",
     "--allowed-mcp-server-names", "--proxy", "-r", "--resume", "--telemetry-target",
     "--telemetry-otlp-endpoint", "--telemetry-outfile")
)  # fmt: skip


def _gemini_index(argv: Sequence[str]) -> int | None:
    """Where Gemini's own arguments begin (after ``node`` and its flags), if it is Gemini."""
    for i, arg in enumerate(argv[:3]):
        base = os.path.basename(arg)
        if base in ("gemini", "gemini.js", "gemini-cli") or "gemini-cli" in arg:
            return i
    return None


def is_gemini(argv: Sequence[str]) -> bool:
    """Whether a process's argv is Gemini CLI's (``node .../gemini ...`` or ``gemini ...``)."""
    return _gemini_index(argv) is not None


def interactive_from(argv: Sequence[str], stdin_is_tty: bool) -> bool:
    """Gemini's own rule, from its argv and whether its stdin is a terminal: interactive
    with ``-i``/``--acp``; else headless with ``-p`` or a positional prompt; else when
    stdin is a terminal. A word we cannot place counts as a prompt: unsure means headless."""
    start = _gemini_index(argv)
    args = list(argv[(start if start is not None else 0) + 1 :])
    if any(a.split("=", 1)[0] in _INTERACTIVE_FLAGS for a in args):
        return True
    takes_value = False
    for arg in args:
        if takes_value:
            takes_value = False
            continue
        if arg == "--":
            return False  # what follows is a prompt
        flag, has_value = arg.split("=", 1)[0], "=" in arg
        if flag in _HEADLESS_FLAGS:
            return False
        if arg.startswith("-"):
            takes_value = flag in _VALUE_FLAGS and not has_value
            continue
        return False  # a positional prompt: Gemini answers it and exits
    return stdin_is_tty


def _ancestors(start: int) -> Iterator[tuple[int, list[str]]]:
    pid = start
    for _ in range(MAX_DEPTH):
        if pid <= 1:
            return
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = [a.decode("utf-8", "replace") for a in fh.read().split(b"\0") if a]
            with open(f"/proc/{pid}/stat", "rb") as fh:
                stat = fh.read().decode("ascii", "replace")
        except OSError:
            return
        yield pid, argv
        try:  # "pid (comm) state ppid ...": comm may hold spaces and parentheses
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        except (IndexError, ValueError):
            return


def _stdin_is_tty(pid: int) -> bool:
    try:
        target = os.readlink(f"/proc/{pid}/fd/0")
    except OSError:
        return False
    return target.startswith(("/dev/pts/", "/dev/tty", "/dev/console"))


def detect_interactive(start: int | None = None) -> bool | None:
    """True/False for the nearest ``gemini`` ancestor; None when none is found."""
    for pid, argv in _ancestors(os.getppid() if start is None else start):
        if is_gemini(argv):
            return interactive_from(argv, _stdin_is_tty(pid))
    return None
