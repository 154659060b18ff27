"""Symbols, short durations and other small formatting shared by the panes.

Every state has a symbol as well as a colour, so the screen reads the same in a
16-colour terminal, with ``NO_COLOR``, or to a colour-blind manager.
"""

from __future__ import annotations

import locale
import os
import sys

AGENT_SYMBOLS = {
    "working": ("▶", ">"),
    "idle": ("·", "."),
    "blocked": ("■", "#"),
    "failed": ("✗", "x"),
    "done": ("✓", "v"),
    "offline": ("○", "o"),
}
NODE_SYMBOLS = {
    "pending": ("○", "o"),
    "running": ("▶", ">"),
    "blocked": ("■", "#"),
    "failed": ("✗", "x"),
    "done": ("✓", "v"),
}
SEVERITY_SYMBOLS = {
    "critical": ("‼", "#"),
    "high": ("!", "!"),
    "normal": ("•", "*"),
    "low": ("·", "."),
}
SEVERITY_SHORT = {"critical": "CRIT", "high": "HIGH", "normal": "norm", "low": "low"}
DELIVERY_SYMBOLS = {
    "delivered": ("✓", "ok"),
    "pending": ("…", ".."),
    "retrying": ("↻", "~"),
    "failed": ("✗", "x"),
}
ACTION_PAST = {
    "approve": "approved",
    "reject": "rejected",
    "reroute": "rerouted",
    "retry": "retried",
    "answer": "answered",
}


def unicode_ok() -> bool:
    """Box drawing and symbols, unless the terminal's encoding cannot show them."""
    if os.environ.get("SWARMDECK_ASCII"):
        return False
    encoding = getattr(sys.stdout, "encoding", None) or locale.getpreferredencoding(False)
    return "utf" in (encoding or "").lower()


def symbol(table: dict[str, tuple[str, str]], key: str, ascii_only: bool = False) -> str:
    pair = table.get(key, ("?", "?"))
    return pair[1] if ascii_only else pair[0]


def short_duration(seconds: float) -> str:
    """``42s``, ``5m``, ``3h``, ``2d``: precise enough for a glance, stable between frames."""
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}" if s < 36000 else f"{s // 3600}h"
    return f"{s // 86400}d"


def coarse_age(seconds: float) -> str:
    """Age for rows that change rarely: 10-second steps under a minute, so rows of a busy
    swarm repaint at most every 10 s instead of every second (terminal output budget)."""
    s = int(max(0.0, seconds))
    if s < 10:
        return "now"
    if s < 60:
        return f"{s // 10 * 10}s"
    return short_duration(s)


def countdown(deadline: float | None, now: float) -> str:
    if deadline is None:
        return ""
    left = deadline - now
    if left <= 0:
        return "overdue"
    s = int(left)
    if s < 3600:
        return f"{s // 60}:{s % 60:02d}"
    return short_duration(left)


def tokens(n: int) -> str:
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


def fit(text: str, width: int) -> str:
    """Cut or pad plain text to exactly ``width`` cells (agent text is cleaned first)."""
    from rich.cells import cell_len, set_cell_size

    if width <= 0:
        return ""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)
