"""Full-screen views: details of an agent, an escalation or a task; help; adapters; audit.

Content is loaded from the store in a worker (awaiting store calls only), then shown
in a scrollable column. Agent-supplied text goes through :mod:`tui.safe_text`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from swarmdeck.store.db import Store
from swarmdeck.store.errors import NotFound
from swarmdeck.store.events import Action
from swarmdeck.store.models import Escalation, Lease, StoredEvent
from swarmdeck.tui.render import ACTION_PAST, SEVERITY_SHORT, countdown, short_duration
from swarmdeck.tui.safe_text import clean, safe

Loader = Callable[[], Awaitable[RenderableType]]
Revealer = Callable[[str], Awaitable[RenderableType]]
#: Why a decision key does nothing here right now (None: it may decide).
Decidable = Callable[[], str | None]
#: What a live view shows, as a token that changes when it does (a row's rev).
Watch = Callable[[], object]

#: A live view reloads at most this often while the store changes under it.
RELOAD_EVERY = 1.0

SCREEN_CSS = """
DetailScreen { background: $surface; }
DetailScreen > #detail-title {
    dock: top; height: 1; background: $panel; color: $text; text-style: bold; padding: 0 1;
}
DetailScreen > VerticalScroll { padding: 0 1; }
"""


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class DetailScreen(Screen[Action | None]):
    """A titled, scrollable view; ``esc`` goes back.

    Escalation and agent views take the decision keys (``decidable`` says when not,
    and why: already decided, nothing open, read-only). A view with a ``watch``
    reloads when what it watches changes (another manager decided, the agent moved on:
    the App calls :meth:`models_changed` after each poll), at most once a second,
    keeping its scroll position.
    """

    DEFAULT_CSS = SCREEN_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back", id="details.back"),
        Binding("j,down", "scroll(1)", "Down", show=False, id="details.down"),
        Binding("k,up", "scroll(-1)", "Up", show=False, id="details.up"),
        Binding("g,home", "top", "Top", show=False, id="details.top"),
        Binding("G,end", "bottom", "Bottom", show=False, id="details.bottom"),
        Binding("a", "decide('approve')", "Approve", id="details.approve"),
        Binding("d", "decide('reject')", "Reject", id="details.reject"),
        Binding("o", "decide('reroute')", "Reroute", id="details.reroute"),
        Binding("r", "decide('retry')", "Retry", id="details.retry"),
        Binding("A", "decide('answer')", "Answer", id="details.answer"),
        Binding("v", "reveal", "Reveal (audited)", id="details.reveal"),
    ]

    def __init__(
        self,
        title: str,
        loader: Loader,
        *,
        decidable: Decidable | None = None,
        revealer: Revealer | None = None,
        watch: Watch | None = None,
    ) -> None:
        """Args:
        decidable: for views a decision can be taken from; the decision keys are
            shown, and a key that cannot act says why instead of doing nothing.
        revealer: for guardrail escalations, shows the masked originals given the
            manager's reason (the call records the reveal in the audit chain).
        watch: makes the view live (see the class docstring).
        """
        super().__init__()
        self.title_text = title
        self.loader = loader
        self.decidable = decidable
        self.revealer = revealer
        self.watched = watch
        self._seen = watch() if watch is not None else None
        self.stale = False
        self.loads = 0

    def compose(self) -> ComposeResult:
        yield Static(safe(self.title_text, single_line=True), id="detail-title")
        with VerticalScroll(id="detail-scroll"):
            yield Static(Text("loading…", style="dim"), id="detail-body")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#detail-scroll", VerticalScroll).focus()
        self.run_worker(self._load(), exclusive=True, group="details")
        if self.watched is not None:
            self.set_interval(RELOAD_EVERY, self._reload_if_stale, name="details-reload")

    async def _load(self) -> None:
        try:
            body = await self.loader()
        except NotFound as exc:
            body = Text(str(exc), style="bold")
        self.query_one("#detail-body", Static).update(body)
        self.loads += 1

    def models_changed(self) -> None:
        """The App's models moved: reload (soon) if what this view shows did."""
        if self.watched is not None:
            seen = self.watched()
            if seen != self._seen:
                self._seen = seen
                self.stale = True

    def _reload_if_stale(self) -> None:
        if self.stale:
            self.stale = False
            self.run_worker(self._load(), exclusive=True, group="details")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "decide":
            return self.decidable is not None
        if action == "reveal":
            return self.revealer is not None
        return True

    def action_back(self) -> None:
        self.dismiss(None)

    def action_decide(self, action: Action) -> None:
        why = self.decidable() if self.decidable is not None else "nothing to decide here"
        if why:
            self.notify(why, severity="warning", markup=False)
            return
        self.dismiss(action)

    def action_reveal(self) -> None:
        from swarmdeck.tui.screens.modals import ReasonScreen

        def reveal(reason: str | None) -> None:
            if reason and self.revealer is not None:
                self.run_worker(self._reveal(self.revealer, reason), group="details")

        self.app.push_screen(
            ReasonScreen(
                "Reveal the masked originals? Who, when and why is recorded in the audit.",
                placeholder="why you need to see it (recorded)",
            ),
            reveal,
        )

    async def _reveal(self, revealer: Revealer, reason: str) -> None:
        shown = await revealer(reason)
        scroll = self.query_one("#detail-scroll", VerticalScroll)
        await scroll.mount(Static(shown, id="revealed"))
        scroll.scroll_end(animate=False)

    def action_scroll(self, lines: int) -> None:
        scroll = self.query_one("#detail-scroll", VerticalScroll)
        scroll.scroll_relative(y=lines, animate=False)

    def action_top(self) -> None:
        self.query_one("#detail-scroll", VerticalScroll).scroll_home(animate=False)

    def action_bottom(self) -> None:
        self.query_one("#detail-scroll", VerticalScroll).scroll_end(animate=False)


def _kv(rows: list[tuple[str, Text | str]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(key, value if isinstance(value, Text) else safe(value))
    return table


class ByWidth:
    """One renderable for wide views, another below ``at`` cells (a side panel): chosen
    when drawn, since a loader does not know the width it will be shown at."""

    def __init__(self, wide: RenderableType, narrow: RenderableType, at: int = 70) -> None:
        self.wide = wide
        self.narrow = narrow
        self.at = at

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.narrow if options.max_width < self.at else self.wide


def events_table(events: list[StoredEvent], now: float) -> RenderableType:
    """Recent events; in a narrow view without the agent column and with a short kind,
    so what happened keeps room to be read."""
    return ByWidth(_events(events, now, narrow=False), _events(events, now, narrow=True))


def _events(events: list[StoredEvent], now: float, *, narrow: bool) -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False, expand=True)
    table.add_column("age", no_wrap=True, width=4)
    table.add_column("kind", no_wrap=True, overflow="ellipsis", max_width=12 if narrow else 18)
    if not narrow:
        table.add_column("agent", no_wrap=True, max_width=16)
    table.add_column("what", overflow="fold", ratio=1)
    for event in events:
        cells: list[RenderableType] = [short_duration(now - event.ts), event.kind]
        if not narrow:
            cells.append(safe(event.agent or "", max_len=60))
        cells.append(safe(_summary(event), max_len=300, single_line=True))
        table.add_row(*cells)
    if not events:
        table.add_row("", Text("no events", style="dim"), *([""] * (1 if narrow else 2)))
    return table


def _summary(event: StoredEvent) -> str:
    data = event.data
    for key in ("activity", "note", "error", "text", "title", "result", "to_agent", "state"):
        value = data.get(key)
        if value:
            if key == "activity" and data.get("state") and not str(value).startswith(data["state"]):
                return f"{data['state']}: {value}"
            return str(value)
    if event.kind == "usage":
        tokens_in, tokens_out = data.get("tokens_in", 0), data.get("tokens_out", 0)
        return f"{tokens_in} in, {tokens_out} out, ${data.get('cost_usd', 0):.4f}"
    return json.dumps(data, sort_keys=True)[:200] if data else ""


def section(title: str) -> Text:
    return Text(f"\n{title}", style="bold underline")


async def agent_details(store: Store, name: str, now: float) -> RenderableType:
    agent = await store.agent(name)
    events = await store.recent_events(agent=name, limit=40)
    escalations = [e for e in await store.escalations(decided_since=now - 86400) if e.agent == name]
    rows: list[tuple[str, Text | str]] = [
        ("agent", agent.name),
        ("state", agent.state),
        ("role", agent.role),
        ("activity", agent.activity or "-"),
        ("task", agent.task or "-"),
        ("workflow", agent.workflow or "-"),
        ("model", agent.model or "-"),
        ("host", agent.host or "-"),
        ("first seen", when(agent.first_seen)),
        ("last seen", f"{when(agent.last_seen)} ({short_duration(now - agent.last_seen)} ago)"),
        ("events", str(agent.events)),
        ("tokens", f"{agent.tokens_in} in, {agent.tokens_out} out"),
        ("cost", f"${agent.cost_usd:.4f}"),
        ("origin", agent.origin),
    ]
    parts: list[RenderableType] = [_kv(rows)]
    if escalations:
        parts.append(section("Escalations"))
        for e in escalations:
            parts.append(escalation_line(e, now))
    parts.append(section("Recent events (newest first)"))
    parts.append(events_table(events, now))
    return Group(*parts)


def escalation_line(e: Escalation, now: float) -> Text:
    text = Text()
    text.append(f"{SEVERITY_SHORT.get(e.severity, e.severity):5} ", style="bold")
    text.append(f"{e.state:9} ")
    text.append_text(safe(e.title, max_len=200, single_line=True))
    if e.state == "decided":
        text.append(
            f"  {ACTION_PAST.get(e.action or '', e.action or '')} "
            f"by {clean(e.decided_by, max_len=80)}"
        )
    return text


async def escalation_details(store: Store, escalation_id: str, now: float) -> RenderableType:
    e = await store.escalation(escalation_id)
    decisions = await store.decisions(escalation_id)
    rows: list[tuple[str, Text | str]] = [
        ("title", e.title),
        ("id", e.id),
        ("kind", e.kind),
        ("severity", e.severity),
        ("state", e.state),
        ("agent", e.agent or "-"),
        ("task", e.task or "-"),
        ("workflow", e.workflow or "-"),
        ("raised", f"{when(e.raised_ts)} ({short_duration(now - e.raised_ts)} ago)"),
        ("deadline", f"{when(e.deadline)} ({countdown(e.deadline, now)})" if e.deadline else "-"),
        ("options", ", ".join(e.options or []) or "-"),
        ("reroute to", ", ".join(e.reroute_targets or []) or "-"),
        ("source", f"{e.source} (delivered back via {e.origin})"),
    ]
    if e.state == "decided":
        rows += [
            ("decided", f"{e.action} by {e.decided_by} at {when(e.decided_ts)}"),
            ("reason", e.reason or "-"),
            ("target", e.target or "-"),
            (
                "delivery",
                f"{e.delivery or 'pending'}"
                + (f": {e.delivery_error}" if e.delivery_error else ""),
            ),
        ]
    parts: list[RenderableType] = [_kv(rows), section("Body")]
    parts.append(safe(e.body or "(empty)", max_len=65_536, single_line=False))
    parts.append(section("History"))
    history = Text()
    history.append(f"{when(e.raised_ts)}  raised by {clean(e.agent or e.source, max_len=80)}\n")
    for d in reversed(decisions):
        history.append(f"{when(d.ts)}  {d.action} by {clean(d.actor, max_len=80)}")
        if d.answer:
            history.append(": ")
            history.append_text(safe(d.answer, max_len=2000, single_line=True))
        if d.reason:
            history.append(": ")
            history.append_text(safe(d.reason, max_len=2000, single_line=True))
        if d.target:
            history.append(f" → {clean(d.target, max_len=80)}")
        history.append("\n")
    if e.state == "withdrawn":
        history.append(f"{when(e.decided_ts)}  withdrawn by the agent\n")
    parts.append(history)
    if e.agent:
        parts.append(section(f"Recent activity of {clean(e.agent, max_len=80)}"))
        parts.append(events_table(await store.recent_events(agent=e.agent, limit=20), now))
    return Group(*parts)


async def task_details(store: Store, task_id: str, now: float) -> RenderableType:
    t = await store.task(task_id)
    rows: list[tuple[str, Text | str]] = [
        ("task", t.id),
        ("title", t.title or "-"),
        ("state", t.state),
        ("workflow", t.workflow or "-"),
        ("assignee", t.assignee or "-"),
        ("depends on", ", ".join(t.depends_on) or "-"),
        ("progress", f"{t.pct:.0f}%" if t.pct is not None else "-"),
        ("note", t.note or "-"),
        ("result", t.result or "-"),
        ("error", t.error or "-"),
        ("retryable", "-" if t.retryable is None else ("yes" if t.retryable else "no")),
        ("failures", str(t.failures)),
        ("tokens", f"{t.tokens_in} in, {t.tokens_out} out (${t.cost_usd:.4f})"),
        ("created", when(t.created_ts)),
        ("started", when(t.started_ts)),
        ("ended", when(t.ended_ts)),
    ]
    parts: list[RenderableType] = [_kv(rows), section("Recent events (newest first)")]
    parts.append(events_table(await store.recent_events(task=task_id, limit=30), now))
    return Group(*parts)


def _leader(lease: Lease | None, now: float) -> Text:
    """Which collector runs it (``host:pid``), or that nobody holds its lease now."""
    if lease is None:
        return Text("-", style="dim")
    host_pid = ":".join(lease.holder.split(":")[:2])
    if lease.expires_ts > now:
        return safe(host_pid, max_len=60, single_line=True)
    return Text(f"free (was {clean(host_pid, max_len=60)})", style="dim")


async def adapters_view(store: Store, now: float) -> RenderableType:
    health = await store.adapter_health()
    leases = {lease.name: lease for lease in await store.leases()}
    table = Table(expand=True, box=None, padding=(0, 1))
    columns = ("adapter", "type", "state", "led by", "restarts", "updated", "detail / last error")
    for col in columns:
        table.add_column(col, overflow="fold")
    for h in health:
        state = {"running": "✓ running", "crashed": "✗ crashed", "degraded": "! degraded"}.get(
            h.state, h.state
        )
        detail = safe(h.detail or "", max_len=300, single_line=True)
        if h.last_error:
            detail.append("  last error: ")
            detail.append_text(safe(h.last_error, max_len=300, single_line=True))
        table.add_row(
            safe(h.name),
            h.type,
            state,
            _leader(leases.get(h.name) or leases.get(h.name.split(":")[0]), now),
            str(h.restarts),
            f"{short_duration(now - h.updated_ts)} ago",
            detail,
        )
    if not health:
        table.add_row(Text("no adapter has reported yet", style="dim"), *[""] * 6)
    letters = await store.dead_letters(limit=20)
    parts: list[RenderableType] = [table, section(f"Dead letters (latest {len(letters)})")]
    for d in letters:
        line = Text(
            f"{when(d.ts)}  {clean(d.origin, max_len=60)} {clean(d.location, max_len=80)}: "
        )
        line.append_text(safe(d.error, max_len=300, single_line=True))
        parts.append(line)
    if not letters:
        parts.append(Text("none", style="dim"))
    return Group(*parts)


async def audit_view(store: Store, now: float, limit: int = 500) -> RenderableType:
    verdict = await store.audit_verify()
    records = await store.audit_records()
    head = Text()
    if verdict.ok:
        head.append(f"✓ audit chain intact: {verdict.records} records verified", style="bold")
    else:
        head.append(f"✗ audit chain BROKEN ({verdict.records} records):", style="bold reverse")
        for problem in verdict.problems:
            head.append("\n  ")
            head.append_text(safe(problem, max_len=300, single_line=True))
    table = Table(expand=True, box=None, padding=(0, 1))
    table.add_column("#", no_wrap=True, justify="right")
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("actor", overflow="fold", max_width=28)
    table.add_column("action", no_wrap=True)
    table.add_column("subject", overflow="fold", max_width=24)
    table.add_column("detail", overflow="fold", ratio=1)
    for r in reversed(records[-limit:]):
        table.add_row(
            str(r.seq),
            datetime.fromtimestamp(r.ts, UTC).strftime("%m-%d %H:%M:%S"),
            safe(r.actor, max_len=120),
            safe(r.action, max_len=60),
            safe(r.subject, max_len=120),
            _audit_detail(r.detail),
        )
    return Group(head, Text(""), table)


def _audit_detail(detail: dict[str, Any]) -> Text:
    # Reasons are the manager's words to the agent; titles come from agents: both untrusted.
    keys = ("reason", "target", "answer", "title", "agent", "task", "deliver_to")
    parts = [f"{k}={detail[k]}" for k in keys if detail.get(k)]
    rest = {k: v for k, v in detail.items() if k not in keys and k not in ("action", "kind") and v}
    if rest:
        parts.append(json.dumps(rest, sort_keys=True, default=str)[:300])
    return safe(" ".join(parts), max_len=800, single_line=True)


async def messages_view(log: list[tuple[float, str, str]]) -> RenderableType:
    """``:messages``: what toasts and the status line said, newest first."""
    table = Table(box=None, padding=(0, 1), show_header=False, expand=True)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold", ratio=1)
    for ts, severity, text in reversed(log):
        table.add_row(when(ts), severity, safe(text, max_len=600, single_line=True))
    if not log:
        table.add_row("", "", Text("nothing said yet", style="dim"))
    return table


async def reveal_view(store: Store, escalation_id: str, actor: str, reason: str) -> RenderableType:
    """Reveal a guardrail escalation's masked originals (audited) as a table.

    The originals are agent text like any other: shown literally, never as markup,
    with escape sequences stripped.
    """
    from swarmdeck.store.governance import reveal

    found = await reveal(store, actor=actor, reason=reason, escalation=escalation_id)
    if not found:
        return Text("Nothing to reveal: no masked originals belong to this escalation.")
    table = Table(title="Revealed (recorded in the audit)", box=None, expand=True)
    table.add_column("masked as", no_wrap=True)
    table.add_column("original", overflow="fold", ratio=1)
    table.add_column("where", overflow="fold")
    for item in found:
        table.add_row(
            safe(item.placeholder, max_len=80),
            safe(item.original, style="bold", single_line=False),
            safe(f"{item.detector} · {item.location}", max_len=120),
        )
    return table
