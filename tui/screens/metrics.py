"""``:metrics``: outcome velocity, the numbers ``swarmdeck report`` prints, with sparklines.

Numbers come from :func:`swarmdeck.metrics.velocity` (one query set, loaded in a
worker, refreshed every few seconds). Below them: what the policy decided lately and
the open guardrail escalations, so a manager sees the automation and the leaks at a
glance. Agent text (escalation titles) goes through :mod:`tui.safe_text`; guardrail
hits were masked at ingest, so titles show placeholders, never the secret.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from swarmdeck.metrics import Velocity, fmt_duration, fmt_ratio, sparkline, velocity
from swarmdeck.store.db import Store
from swarmdeck.store.queries.metrics import (
    GuardrailHit,
    PolicyDecision,
    open_guardrail_escalations,
    recent_policy_decisions,
)
from swarmdeck.tui.safe_text import safe

WINDOWS: dict[str, float] = {"1h": 3600.0, "6h": 6 * 3600.0, "24h": 86400.0, "7d": 7 * 86400.0}

CSS = """
MetricsScreen { background: $surface; }
MetricsScreen > #metrics-title { dock: top; height: 1; background: $panel; color: $text;
    text-style: bold; padding: 0 1; }
MetricsScreen > VerticalScroll { padding: 0 1; }
"""


class MetricsScreen(Screen[None]):
    """Outcome velocity over a window (1h, 6h, 24h, 7d); ``esc`` goes back."""

    DEFAULT_CSS = CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back", id="metrics.back"),
        Binding("h", "window('1h')", "1h", id="metrics.window_1h"),
        Binding("s", "window('6h')", "6h", id="metrics.window_6h"),
        Binding("d", "window('24h')", "24h", id="metrics.window_24h"),
        Binding("w", "window('7d')", "7d", id="metrics.window_7d"),
        Binding("j,down", "scroll(1)", "Down", show=False, id="metrics.down"),
        Binding("k,up", "scroll(-1)", "Up", show=False, id="metrics.up"),
    ]

    def __init__(
        self,
        store: Store,
        *,
        window: str = "6h",
        clock: Callable[[], float] | None = None,
        buckets: int = 24,
        refresh_seconds: float = 5.0,
    ) -> None:
        super().__init__()
        self.store = store
        self.window = window if window in WINDOWS else "6h"
        self._clock = clock
        self.buckets = buckets
        self.refresh_seconds = refresh_seconds
        self.last: Velocity | None = None

    def clock(self) -> float:
        if self._clock is not None:
            return self._clock()
        app_clock = getattr(self.app, "clock", None)
        return float(app_clock()) if callable(app_clock) else time.time()

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="metrics-title")
        with VerticalScroll(id="metrics-scroll"):
            yield Static(Text("loading…", style="dim"), id="metrics-body")
        yield Footer()

    def _title(self) -> Text:
        return Text(f"Metrics · outcome velocity over the last {self.window}")

    def on_mount(self) -> None:
        self.query_one("#metrics-scroll", VerticalScroll).focus()
        self.reload()
        if self.refresh_seconds > 0:
            self.set_interval(self.refresh_seconds, self.reload)

    def reload(self) -> None:
        self._load()

    @work(exclusive=True, group="metrics", exit_on_error=False)
    async def _load(self) -> None:
        now = self.clock()
        v = await velocity(
            self.store, since=now - WINDOWS[self.window], until=now, buckets=self.buckets
        )
        recent = await recent_policy_decisions(self.store, limit=8)
        guard = await open_guardrail_escalations(self.store, limit=8)
        self.last = v
        self.query_one("#metrics-title", Static).update(self._title())
        self.query_one("#metrics-body", Static).update(render(v, recent, guard, now))

    def action_window(self, name: str) -> None:
        self.window = name
        self.reload()

    def action_scroll(self, step: int) -> None:
        self.query_one("#metrics-scroll", VerticalScroll).scroll_relative(y=step, animate=False)

    def action_back(self) -> None:
        self.dismiss(None)


def _age(ts: float, now: float) -> str:
    return fmt_duration(max(0.0, now - ts)) + " ago"


def render(
    v: Velocity, recent: Sequence[PolicyDecision], guard: Sequence[GuardrailHit], now: float
) -> RenderableType:
    """The metrics body: the figures with sparklines, then policy actions and guardrail hits."""
    figures = Table.grid(padding=(0, 2))
    figures.add_column(style="bold")
    figures.add_column(justify="right")
    figures.add_column(style="cyan")
    s = v.series
    figures.add_row(
        "completed tasks / hour",
        f"{v.completed_per_hour:.1f}",
        sparkline(s.get("completed", [])),
    )
    figures.add_row("tasks completed", str(v.completed), "")
    figures.add_row(
        "human wait median",
        fmt_duration(v.wait_median),
        sparkline(s.get("wait_median", [])),
    )
    figures.add_row("human wait p90", fmt_duration(v.wait_p90), "")
    figures.add_row(
        "auto-resolution",
        f"{fmt_ratio(v.auto_ratio)} ({v.policy_decisions} policy / {v.human_decisions} human)",
        sparkline(s.get("policy_decisions", [])),
    )
    figures.add_row(
        "retries per task",
        "-" if v.retries_per_task is None else f"{v.retries_per_task:.2f}",
        sparkline(s.get("retries", [])),
    )
    figures.add_row(
        "cost per completed task",
        "-" if v.cost_per_completed is None else f"${v.cost_per_completed:.4f}",
        sparkline(s.get("cost", [])),
    )
    start = datetime.fromtimestamp(v.since, UTC).strftime("%H:%M")
    end = datetime.fromtimestamp(v.until, UTC).strftime("%H:%M UTC")
    parts: list[RenderableType] = [
        figures,
        Text(f"sparklines: {len(s.get('completed', []))} buckets, {start} → {end}", style="dim"),
        Text(""),
        Text("Recent policy decisions", style="bold underline"),
    ]
    if recent:
        table = Table.grid(padding=(0, 2))
        for _ in range(4):
            table.add_column()
        for ts, actor, action, title in recent:
            table.add_row(
                Text(_age(float(ts), now), style="dim"),
                safe(str(actor), max_len=40, single_line=True),
                Text(str(action)),
                safe(str(title), max_len=80, single_line=True),
            )
        parts.append(table)
    else:
        parts.append(Text("none yet (configure [[policy.rules]])", style="dim"))
    parts += [Text(""), Text("Open guardrail escalations", style="bold underline")]
    if guard:
        table = Table.grid(padding=(0, 2))
        for _ in range(3):
            table.add_column()
        for agent, title, raised in guard:
            table.add_row(
                Text(_age(float(raised), now), style="dim"),
                safe(str(agent or "-"), max_len=40, single_line=True),
                safe(str(title), max_len=90, single_line=True),
            )
        parts.append(table)
    else:
        parts.append(Text("none", style="dim"))
    return Group(*parts)
