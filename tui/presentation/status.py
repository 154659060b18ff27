"""The frame around the panes: the status line, the pane titles, the attention toast.

Each is a pure function of what the models hold and a few session facts, so a test
gives it values and reads the text back, no App needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.text import Text

from swarmdeck.store.models import Escalation, Workflow, WorkflowSummary
from swarmdeck.tui.model import InboxModel, Models, SwarmModel
from swarmdeck.tui.render import AGENT_SYMBOLS, SEVERITY_SYMBOLS, short_duration, symbol
from swarmdeck.tui.safe_text import clean

#: Below this width the status line drops its words and keeps the numbers.
NARROW_STATUS = 80
#: Adapter states that are not a problem worth naming.
HEALTHY = ("running", "starting", "stopped")


@dataclass(frozen=True, slots=True)
class StatusState:
    """Everything the status line shows, as plain values."""

    agents_by_state: Mapping[str, int]
    open_by_severity: Mapping[str, int]
    oldest_open: float | None
    now: float
    adapters: Sequence[tuple[str, str]]
    """(name, state) of each adapter instance."""
    collector: str
    actor: str
    read_only: bool = False
    poll_error: str | None = None
    ascii_only: bool = False
    width: int = 120


def status_state(
    models: Models,
    *,
    now: float,
    collector: str,
    actor: str,
    read_only: bool,
    poll_error: str | None,
    ascii_only: bool,
    width: int,
) -> StatusState:
    """What the status line needs, read from the main screen's models."""
    return StatusState(
        agents_by_state=models.swarm.by_state,
        open_by_severity=models.inbox.open_by_severity(),
        oldest_open=models.inbox.oldest_open(),
        now=now,
        adapters=[(h.name, h.state) for h in models.health],
        collector=collector,
        actor=actor,
        read_only=read_only,
        poll_error=poll_error,
        ascii_only=ascii_only,
        width=width,
    )


def status_line(s: StatusState) -> Text:
    """Agents by state, open escalations by severity, the oldest wait, adapters, collector."""
    a = s.ascii_only
    narrow = s.width < NARROW_STATUS
    bar = " | " if a else " │ "
    text = Text()
    for state in ("working", "blocked", "failed"):
        n = s.agents_by_state.get(state, 0)
        style = "bold" if state != "working" and n else ""
        label = "" if narrow else " " + state
        text.append(f"{symbol(AGENT_SYMBOLS, state, a)}{n}{label} ", style)
    sev = s.open_by_severity
    text.append(bar.lstrip())
    parts = [
        f"{symbol(SEVERITY_SYMBOLS, level, a)}{sev[level]}"
        for level in ("critical", "high", "normal", "low")
        if sev.get(level)
    ]
    text.append(
        ("" if narrow else "open ") + (" ".join(parts) if parts else "0"),
        "bold" if sev.get("critical") or sev.get("high") else "",
    )
    if s.oldest_open is not None:
        wait = short_duration(s.now - s.oldest_open)
        text.append(f" ⏱{wait}" if narrow else f"  oldest {wait}")
    text.append(bar)
    bad = [name for name, state in s.adapters if state not in HEALTHY]
    if not s.adapters:
        text.append("adapters -")
    elif bad:
        text.append(f"adapters {len(bad)}/{len(s.adapters)} down: ", "bold")
        text.append(clean(", ".join(bad), max_len=60))
    else:
        text.append(f"adapters {len(s.adapters)} ok")
    if not narrow:
        text.append(f"{bar}collector: {s.collector}")
        text.append(f"{bar}{clean(s.actor, max_len=60)}")
    if s.read_only:
        text.append(" [read-only]", "bold")
    if s.poll_error:
        text.append(" ⚠ " + clean(s.poll_error, max_len=120), "bold")
    return text


def status_message(text: str, severity: str, *, ascii_only: bool = False) -> Text:
    """A message shown on the status line (where a toast would cover the list)."""
    mark = {"error": ("✗", "x"), "warning": ("⚠", "!")}.get(severity, ("›", ">"))
    style = "bold" if severity in ("error", "warning") else ""
    return Text(f"{mark[1] if ascii_only else mark[0]} {clean(text, max_len=300)}", style)


def swarm_title(swarm: SwarmModel) -> str:
    total = len(swarm.agents)
    count = f"{len(swarm.order)}/{total}" if swarm.filter else f"{total}"
    title = f"[1] Swarm {count} · sort {swarm.sort}"
    if swarm.filter:
        title += f" · /{swarm.filter.text}"
    return title


def inbox_title(inbox: InboxModel, *, marked: int, read_only: bool) -> str:
    open_count = sum(1 for e in inbox.items.values() if e.state == "open")
    title = f"[2] Inbox {open_count} open"
    if marked:
        title += f" · {marked} marked"
    if inbox.filter:
        title += f" · /{inbox.filter.text}"
    if read_only:
        title += " · read-only"
    return title


def workflow_title(graph: Workflow | None, workflows: Sequence[WorkflowSummary]) -> str:
    if graph is None:
        return "[3] Workflow (none)"
    summary = next((w for w in workflows if w.name == graph.name), None)
    done = f" {summary.done}/{summary.tasks} done" if summary else ""
    more = f" · w: pick one of {len(workflows)}" if len(workflows) > 1 else ""
    return f"[3] Workflow {graph.name}{done}{more}"


def attention_text(urgent: Sequence[Escalation]) -> str:
    """The toast for new (or risen) high and critical escalations: the first, and how many
    more. A human gate has no agent: it is named by its workflow."""
    first = urgent[0]
    more = f" (+{len(urgent) - 1} more)" if len(urgent) > 1 else ""
    who = first.agent or first.workflow
    prefix = f"{clean(who, max_len=60)}: " if who else ""
    title = clean(first.title, max_len=160, single_line=True)
    return f"{first.severity.upper()}: {prefix}{title}{more}"
