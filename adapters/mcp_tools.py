"""The swarmdeck MCP server: ``request_approval`` and ``report_status`` for any MCP agent.

One server definition serves both paths: ``swarmdeck mcp`` over stdio (a
:class:`~swarmdeck.adapters.bridge.StoreBridge`) and the ``mcp`` adapter's
streamable HTTP endpoint inside the collector (a ``FutureBridge``).

``request_approval`` blocks until a manager decides, reporting progress while it
waits (clients that reset their tool timeout on progress keep waiting), and
returns a structured :class:`ApprovalResult`. A caller's own tool timeout is a
hard limit (Claude Code: ``MCP_TOOL_TIMEOUT``, in ms): set ``timeout_seconds`` or
the server's timeout below it so the agent gets a clear ``timeout`` result
instead of an aborted call.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field

from swarmdeck.adapters.bridge import STORE_ERRORS, UNAVAILABLE, Bridge, Outcome
from swarmdeck.adapters.hooks.translate import clean, visible
from swarmdeck.store.events import AgentState, Event, EventError, Severity, make_event

Verdict = Literal[
    "approve", "reject", "reroute", "retry", "answer", "timeout", "withdrawn", "unavailable"
]

#: Role of agents that appear through MCP.
ROLE = "mcp"
#: Longest escalation body kept from ``details``: the argument may hold 60,000 control
#: characters, each shown as several (``\x01``), and the event model allows 65,536.
MAX_DETAILS = 60_000
#: What one call may send: names and options are cut to 200 characters when stored, but
#: a megabyte of name is refused before anything is cleaned.
MAX_NAME_ARG = 1000
MAX_OPTIONS = 100
MAX_OPTION_ARG = 1000
#: Options offered to the manager, and the longest one (what the event model takes).
KEPT_OPTIONS = 50
KEPT_OPTION_LEN = 200


def bounded(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying so."""
    if len(text) <= limit:
        return text
    return text[: limit - 40] + f"\n[... {len(text) - limit + 40} more characters cut]"


INSTRUCTIONS = (
    "swarmdeck connects you to a human manager. Before a risky or irreversible action, call "
    "request_approval and wait: proceed only when the decision is 'approve'. 'reject' and "
    "'timeout' mean do not proceed (read the reason); 'reroute' means stop, someone else "
    "('reroute_to') takes over; 'retry' means try again differently, following the reason; "
    "'answer' carries the manager's answer. Call report_status when you start, block or "
    "finish a piece of work so the manager sees what you are doing."
)


class ApprovalResult(BaseModel):
    """How a ``request_approval`` call ended."""

    decision: Verdict = Field(
        description="approve: go ahead. reject: do not (see reason). reroute: stop, "
        "reroute_to takes over. retry: try again differently. answer: see answer. "
        "timeout/withdrawn/unavailable: no decision; do not proceed."
    )
    reason: str = Field(description="The manager's reason, or why no decision came.")
    reroute_to: str | None = Field(default=None, description="Who takes over (reroute).")
    answer: str | None = Field(default=None, description="The manager's answer (answer).")
    decided_by: str | None = Field(default=None, description="Who decided (user@host or policy).")
    escalation: str = Field(description="The escalation id in swarmdeck.")


class StatusResult(BaseModel):
    """What ``report_status`` recorded."""

    agent: str
    state: AgentState
    activity: str


def outcome_to_result(outcome: Outcome) -> ApprovalResult:
    decision: Any = outcome.action
    return ApprovalResult(
        decision=decision,
        reason=outcome.reason,
        reroute_to=outcome.target,
        answer=outcome.answer,
        decided_by=outcome.decided_by,
        escalation=outcome.escalation,
    )


def client_name(ctx: Context[Any, Any] | None) -> str | None:
    """The MCP client's own name (``clientInfo.name``), when it sent one."""
    if ctx is None:
        return None
    try:
        params = ctx.session.client_params
    except Exception:
        return None
    if params is None:
        return None
    name = getattr(params.client_info, "name", None)
    return str(name) if name else None


def agent_name(explicit: str | None, ctx: Context[Any, Any] | None) -> str:
    """The agent's name: the argument, else ``mcp:<client name>``; one line, at most 200
    characters, never empty (a name that was only an escape sequence cleans to nothing)."""
    if explicit and (name := clean(explicit, 200)):
        return name
    client = client_name(ctx)
    named = clean(f"mcp:{client}", 200) if client else ""
    return named if named and named != "mcp:" else "mcp:agent"


def name_key(agent: str) -> str:
    """The agent name as an event id carries it: ids are at most 200 characters, names
    too, so a long name is replaced by a digest of itself."""
    if len(agent) <= 64:
        return agent
    return "h" + hashlib.sha256(agent.encode("utf-8", "replace")).hexdigest()[:40]


def choices(options: list[str] | None) -> list[str] | None:
    """Options offered to the manager: cleaned, empty and repeated ones dropped, bounded."""
    kept = [c for c in (clean(o, KEPT_OPTION_LEN) for o in (options or [])) if c]
    return list(dict.fromkeys(kept))[:KEPT_OPTIONS] or None


#: Why a waiting call's escalation is withdrawn when the call ends under it. The SDK
#: cancels the handler alike for ``notifications/cancelled`` and for a closed
#: connection (the client exited), and does not say which.
CLIENT_GONE_REASON = (
    "the MCP client stopped waiting (it cancelled the request or closed the connection) "
    "before a decision came"
)


def build_server(
    bridge: Bridge,
    *,
    timeout: float,
    progress_every: float = 5.0,
    host: str | None = None,
    name: str = "swarmdeck",
    on_error: Callable[[BaseException], Awaitable[None]] | None = None,
    stopping: Callable[[], str | None] | None = None,
) -> MCPServer[Any]:
    """An MCPServer whose tools write through ``bridge``.

    Args:
        bridge: where events go and decisions come from.
        timeout: default seconds ``request_approval`` waits (``timeout_seconds`` may lower it).
        progress_every: seconds between progress notifications while waiting.
        host: the agent's host name recorded on ``agent.seen``.
        stopping: why the server is stopping, once it is (a signal): the reason of the
            withdrawals of calls still waiting then.
    """
    server: MCPServer[Any] = MCPServer(name, instructions=INSTRUCTIONS, log_level="WARNING")
    seen: set[str] = set()
    source = bridge.source

    def seen_event(agent: str) -> list[Event]:
        if agent in seen:
            return []
        seen.add(agent)
        data: dict[str, Any] = {"name": agent, "role": ROLE, "vendor": "mcp"}
        if host:
            data["host"] = host
        return [
            make_event(
                "agent.seen", id=f"seen:{name_key(agent)}", source=source, agent=agent, data=data
            )
        ]

    def status(agent: str, state: str, activity: str, task: str | None = None) -> Event:
        task_id = clean(task, 200) if task else ""
        fields: dict[str, Any] = {"task": task_id} if task_id else {}
        return make_event(
            "agent.status",
            id=f"status:{uuid.uuid4().hex}",
            source=source,
            agent=agent,
            data={"state": state, "activity": clean(activity, 500)},
            **fields,
        )

    @server.tool(
        title="Ask a human manager for approval",
        description=(
            "Ask swarmdeck's human manager to approve an action and wait for the decision. "
            "Returns decision approve|reject|reroute|retry|answer, or timeout when nobody "
            "decided in time. Proceed only on approve."
        ),
    )
    async def request_approval(
        summary: Annotated[
            str, Field(min_length=1, max_length=500, description="One line: what you want to do.")
        ],
        details: Annotated[
            str, Field(max_length=60_000, description="Why, what it touches, how to undo it.")
        ] = "",
        severity: Annotated[
            Severity, Field(description="How much is at stake: low, normal, high, critical.")
        ] = "normal",
        options: Annotated[
            list[Annotated[str, Field(max_length=MAX_OPTION_ARG)]] | None,
            Field(max_length=MAX_OPTIONS, description="Choices to offer the manager, if any."),
        ] = None,
        agent: Annotated[
            str | None,
            Field(
                max_length=MAX_NAME_ARG,
                description="Your agent name (default: the client's name).",
            ),
        ] = None,
        timeout_seconds: Annotated[
            float | None,
            Field(gt=0, le=86_400, description="Wait at most this long (default: server's)."),
        ] = None,
        ctx: Context[Any, Any] | None = None,
    ) -> ApprovalResult:
        who = agent_name(agent, ctx)
        escalation_id = f"mcp-{uuid.uuid4().hex[:16]}"
        within = min(timeout_seconds, timeout) if timeout_seconds else timeout
        # What the manager approves: one line of title, and the details with every control
        # character shown rather than hidden (each grows to several characters: bounded after).
        title = clean(visible(summary), 200) or "(no summary given)"
        data: dict[str, Any] = {
            "id": escalation_id,
            "kind": "approval",
            "title": title,
            "body": bounded(visible(details), MAX_DETAILS),
            "severity": severity,
        }
        if offered := choices(options):
            data["options"] = offered
        try:
            events = seen_event(who)
            events.append(status(who, "blocked", f"waiting for approval: {title}"))
            events.append(
                make_event(
                    "escalation.raised", id=escalation_id, source=source, agent=who, data=data
                )
            )
        except EventError as exc:  # never expected: still an answer, and never an approval
            seen.discard(who)
            return outcome_to_result(
                Outcome(escalation_id, UNAVAILABLE, f"the request could not be recorded: {exc}")
            )

        async def progress(elapsed: float, total: float) -> None:
            if ctx is not None:
                await ctx.report_progress(
                    elapsed, total, f"waiting for a manager's decision ({elapsed:.0f}s)"
                )

        def why_gone() -> str:
            return (stopping() if stopping is not None else None) or CLIENT_GONE_REASON

        try:
            outcome = await bridge.escalate(
                events,
                escalation_id,
                within=within,
                default_label="timeout",
                progress=progress,
                progress_every=progress_every,
                why_gone=why_gone,
            )
        except STORE_ERRORS as exc:
            seen.discard(who)
            if on_error is not None:
                await on_error(exc)
            outcome = Outcome(escalation_id, UNAVAILABLE, f"swarmdeck store unavailable: {exc}")
            return outcome_to_result(outcome)
        after = (
            f"{outcome.action} by {outcome.decided_by}: {title}"
            if outcome.decided
            else f"no decision ({outcome.reason}): {title}"
        )
        # The decision is what the agent needs; the status row can wait.
        with contextlib.suppress(*STORE_ERRORS):
            await bridge.emit([status(who, "working", after)])
        return outcome_to_result(outcome)

    @server.tool(
        title="Tell the manager what you are doing",
        description=(
            "Report your state (idle, working, blocked, failed, done, offline) and current "
            "activity so you appear, current, in swarmdeck's swarm view."
        ),
    )
    async def report_status(
        state: Annotated[AgentState, Field(description="idle|working|blocked|failed|done|offline")],
        activity: Annotated[
            str, Field(max_length=2000, description="One line: what you are doing now.")
        ] = "",
        task: Annotated[
            str | None, Field(max_length=200, description="The task id you work on, if any.")
        ] = None,
        agent: Annotated[
            str | None,
            Field(
                max_length=MAX_NAME_ARG,
                description="Your agent name (default: the client's name).",
            ),
        ] = None,
        ctx: Context[Any, Any] | None = None,
    ) -> StatusResult:
        who = agent_name(agent, ctx)
        try:
            events = seen_event(who)
            events.append(status(who, state, activity, task))
        except EventError as exc:  # never expected: a clear tool error, not a traceback
            seen.discard(who)
            raise ValueError(f"the status could not be recorded: {exc}") from None
        try:
            await bridge.emit(events)
        except STORE_ERRORS:
            seen.discard(who)
            raise
        return StatusResult(agent=who, state=state, activity=clean(activity, 500))

    return server
