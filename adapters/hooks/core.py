"""One hook mechanism for every coding agent's CLI: payload in, events out, decision back.

A coding agent's CLI runs a hook before a tool call and does what the hook answers. The
flow is the same for every vendor, so it is written once, here:

1. the vendor module reads the payload into a :class:`HookCall` (its *intent*: a tool call
   to gate, a stop to review, or a status to record);
2. the call becomes events (:mod:`.translate`) under the session's agent name
   (:mod:`.naming`);
3. a gate raises an ``approval`` escalation; the policy rules get the first word
   (:data:`PolicyCheck`, wired by the shell: adapters may not import the policy); then
   the bridge waits for a manager's decision, or the timeout;
4. the outcome becomes a vendor-neutral :class:`Verdict`, which the vendor module
   renders as its CLI's answer (JSON, exit code, stderr).

Every way this can fail (a payload that is not one, a store that cannot be reached, a
bug, a signal) ends in :meth:`HookProtocol.failure`: the vendor's explicit "no",
because Codex and Gemini let a call through when their hook fails, and Claude Code
does on any exit code but 0 and 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from swarmdeck.adapters.bridge import (
    GONE_REASON,
    STORE_ERRORS,
    UNAVAILABLE,
    Bridge,
    Outcome,
    StoreBridge,
    WhyGone,
)
from swarmdeck.adapters.hooks import bounded_json
from swarmdeck.adapters.hooks.naming import release_session_agent, session_agent_name, short
from swarmdeck.adapters.hooks.translate import Translator
from swarmdeck.store.events import Event

if TYPE_CHECKING:
    from swarmdeck.adapters.supervisor import IngestFilter
    from swarmdeck.config import HookSettings
    from swarmdeck.store.db import Store

Default = Literal["deny", "allow", "ask"]
Behavior = Literal["allow", "deny", "ask"]
Intent = Literal["gate", "review", "status", "log"]
ToolKind = Literal["shell", "write", "mcp", "other"]

#: Hook payloads are small; anything bigger is not one.
MAX_PAYLOAD = 4 * 1024 * 1024
#: Deepest JSON nesting a hook payload may have (the CLIs' are a few levels deep).
MAX_DEPTH = 64

#: How long a PreToolUse approval answers the same call's PermissionRequest (Codex asks
#: both for one command; the manager answered once).
APPROVAL_MEMORY_SECONDS = 900.0


class PayloadError(ValueError):
    """The hook payload is not what the CLI sends; ``str()`` is one line."""


#: Applies the policy rules to one open escalation at once; True when a rule acted on it.
PolicyCheck = Callable[[str], Awaitable[bool]]


class ApprovalMemory(Protocol):
    """Where a manager's approval of one tool call is remembered for the same call's
    second question (adapter state, through the store)."""

    async def recall(self, key: str) -> tuple[str, str] | None:
        """(escalation id, who approved) of a recent approval of ``key``, if any; it is
        forgotten on the way, so one approval answers one question."""

    async def remember(self, key: str, escalation_id: str, decided_by: str) -> None: ...


@dataclass(frozen=True, slots=True)
class HookContext:
    """What the hook process knows beyond the payload (the thin client sends it along).

    Attributes:
        call_id: unique per hook call. The escalation id derives from it, so a call that
            the store path retries after the collector vanished waits on the same
            escalation instead of raising a second one.
        interactive: whether a person sits at the agent's terminal (Gemini asks its own
            user only then); None when unknown, which counts as headless.
        why_gone: why the call is being cancelled, asked when it is (the hook process
            knows: a signal, its CLI went away; the collector: the hook's connection
            closed); the withdrawn escalation carries it.
    """

    call_id: str
    interactive: bool | None = None
    why_gone: WhyGone | None = None

    def gone_reason(self) -> str:
        return self.why_gone() if self.why_gone is not None else GONE_REASON


@dataclass(frozen=True, slots=True)
class HookCall:
    """One hook call as a vendor module read it: what happens, in swarmdeck's words."""

    vendor: str
    event: str
    """The vendor's event name, as sent (``PermissionRequest``, ``BeforeTool``)."""
    intent: Intent
    session_id: str
    cwd: str
    title: str = ""
    """The escalation's title (``Bash: rm -rf build/``)."""
    tool: str | None = None
    tool_input: dict[str, Any] | None = None
    tool_kind: ToolKind = "other"
    command: str | None = None
    """The shell command a shell tool runs."""
    paths: tuple[str, ...] = ()
    """The files a write tool changes."""
    subagent_id: str | None = None
    subagent_type: str | None = None
    model: str | None = None
    state: str | None = None
    """The agent's state for a status call (and after a reviewed stop)."""
    activity: str = ""
    """The activity of a status call, or a log call's text."""
    last_message: str | None = None
    details: tuple[str, ...] = ()
    """Extra lines of the escalation body (``permission mode: default``)."""
    approval_key: str | None = None
    """Identifies one tool call across two hooks that ask about it (Codex's PreToolUse,
    then its PermissionRequest)."""
    approval_memory: Literal["remember", "recall"] | None = None
    """``remember``: an approval of this call is kept under ``approval_key``; ``recall``:
    a kept approval answers this call at once (once)."""

    @property
    def ends_session(self) -> bool:
        """The session is over (every vendor calls it ``SessionEnd``): its name is freed."""
        return self.event == "SessionEnd" and self.subagent_id is None


#: Claude Code's tools that change or send something, and every MCP tool but swarmdeck's
#: own (a JavaScript regex for Claude Code, a Python one here: both read it alike).
CLAUDE_MATCHER = "Bash|Edit|Write|MultiEdit|NotebookEdit|WebFetch|mcp__(?!swarmdeck__).*"
#: Codex's (a Rust regex: no look-around, so swarmdeck's own tools are left out here).
CODEX_MATCHER = "Bash|Edit|Write|mcp__.*"
GEMINI_MATCHER = "run_shell_command|write_file|replace|mcp_.*"
#: swarmdeck's own MCP tools: they ask the manager themselves, so no hook gates them.
OWN_MCP_TOOLS = ("request_approval", "report_status")


def own_tool(tool: str, servers: Sequence[str]) -> bool:
    """Whether ``tool`` is one of swarmdeck's own MCP tools, as an agent CLI names it:
    ``mcp__<server>__<tool>`` (Claude Code, Codex) or ``mcp_<server>_<tool>`` (Gemini CLI)."""
    return any(
        tool in (f"mcp__{server}__{name}", f"mcp_{server}_{name}")
        for server in servers
        for name in OWN_MCP_TOOLS
    )


@dataclass(slots=True)
class HookConfig:
    """What a hook handler needs to know beyond the payload."""

    timeout: float = 600.0
    default: Default = "deny"
    pretool_matcher: str = CLAUDE_MATCHER
    codex_matcher: str = CODEX_MATCHER
    gemini_matcher: str = GEMINI_MATCHER
    review_stop: bool = False
    progress_every: float = 5.0
    own_mcp_servers: tuple[str, ...] = ("swarmdeck",)

    @classmethod
    def from_settings(cls, hooks: HookSettings, timeout: float | None = None) -> HookConfig:
        """From the ``[hooks]`` settings, and a ``--timeout`` flag when given."""
        return cls(
            timeout=timeout if timeout is not None else hooks.timeout,
            default=hooks.default,
            pretool_matcher=hooks.pretool_matcher,
            codex_matcher=hooks.codex_matcher,
            gemini_matcher=hooks.gemini_matcher,
            review_stop=hooks.review_stop,
            own_mcp_servers=tuple(hooks.own_mcp_servers),
        )

    def gates(self, tool: str, matcher: str) -> bool:
        """Whether a tool call ``matcher`` selects waits for a manager: never one of
        swarmdeck's own MCP tools (it would ask twice, or wait on itself)."""
        return matches(matcher, tool) and not own_tool(tool, self.own_mcp_servers)


@dataclass(slots=True)
class HookAnswer:
    """What to tell the CLI: stdout JSON (or nothing), exit code, stderr line."""

    body: dict[str, Any] | None = None
    exit_code: int = 0
    stderr: str = ""
    outcome: Outcome | None = None
    events: list[Event] = field(default_factory=list)

    def stdout(self) -> str:
        return "" if self.body is None else json.dumps(self.body, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Verdict:
    """How a gate ended, before any vendor's wording: allow, deny or ask, and why."""

    behavior: Behavior
    reason: str
    outcome: Outcome

    @property
    def decided(self) -> bool:
        """A manager (or a rule) decided; otherwise the configured default answered."""
        return self.outcome.decided

    @property
    def rerouted(self) -> bool:
        return self.outcome.action == "reroute"


def reroute_text(outcome: Outcome) -> str:
    who = outcome.target or "someone else"
    by = f" by {outcome.decided_by}" if outcome.decided_by else ""
    text = f"Rerouted{by}: {who} takes over this work; do not do it yourself."
    if outcome.reason:
        text += f" Reason: {outcome.reason}"
    return text


def _deny_text(outcome: Outcome) -> str:
    if outcome.action == "reject":
        by = f" by {outcome.decided_by}" if outcome.decided_by else ""
        return f"Denied{by}: {outcome.reason or 'no reason given'}"
    if outcome.action == "reroute":
        return reroute_text(outcome)
    if outcome.action == "answer":
        return f"The manager answered instead of approving: {outcome.answer or outcome.reason}"
    if outcome.action == "retry":
        return f"The manager asks you to reconsider and try differently: {outcome.reason}"
    return f"swarmdeck: {outcome.reason}"


def verdict_of(outcome: Outcome, default: Default) -> Verdict:
    """The verdict a wait's outcome means: the decision, or the default when none came."""
    if outcome.action == "approve":
        reason = f"Approved by {outcome.decided_by}" + (
            f": {outcome.reason}" if outcome.reason else ""
        )
        return Verdict("allow", reason, outcome)
    if outcome.decided:
        return Verdict("deny", _deny_text(outcome), outcome)
    return Verdict(default, f"swarmdeck: no decision ({outcome.reason})", outcome)


def continue_text(outcome: Outcome) -> str | None:
    """For a reviewed stop: the instruction that keeps the agent working, or None to stop."""
    if outcome.action == "reroute":
        return reroute_text(outcome)
    if outcome.action in ("retry", "answer"):
        return outcome.answer or outcome.reason or "The manager asks you to continue."
    return None


def matches(matcher: str, tool: str) -> bool:
    """The CLIs' matcher semantics: ``*``/empty match all, else a regex on the whole name."""
    if matcher in ("", "*"):
        return True
    try:
        return re.fullmatch(matcher, tool) is not None
    except re.error:
        return tool in matcher.split("|")


class BasePayload(BaseModel):
    """The fields every vendor's hook payload carries. Unknown fields are kept, not
    rejected: the CLIs add fields over time and a hook must keep working."""

    model_config = ConfigDict(extra="allow", frozen=True)

    session_id: str = Field(min_length=1, max_length=200)
    cwd: str = Field(min_length=1, max_length=4096)
    hook_event_name: str = Field(min_length=1, max_length=100)
    transcript_path: str | None = Field(default=None, max_length=4096)
    tool_name: str | None = Field(default=None, max_length=200)
    tool_input: dict[str, Any] | None = None


P = TypeVar("P", bound=BasePayload)


def load_payload(raw: bytes | str, model: type[P], cli: str) -> P:
    """Validate a hook payload of ``cli`` into ``model``.

    The JSON is read bounded (:mod:`.bounded_json`): a ``tool_input`` nested 2,000 deep
    is an ordinary refusal, not a ``RecursionError`` that some path turns into a failed
    hook (which lets the call through).

    Raises:
        PayloadError: too big, not JSON, nested deeper than :data:`MAX_DEPTH`, not an
            object, or a field missing or too long, in one line.
    """
    if len(raw) > MAX_PAYLOAD:
        raise PayloadError(f"hook payload larger than {MAX_PAYLOAD} bytes")
    if not raw.strip():
        raise PayloadError(f"empty hook payload (expected {cli}'s JSON on stdin)")
    try:
        data = bounded_json.load(raw, max_depth=MAX_DEPTH)
    except bounded_json.Unreadable as exc:
        raise PayloadError(f"hook payload {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError("hook payload must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        parts = []
        for err in exc.errors(include_url=False):
            where = ".".join(str(p) for p in err["loc"]) or "payload"
            parts.append(f"{where}: {err['msg']}")
        raise PayloadError("hook payload invalid: " + "; ".join(parts)) from None


def event_name_of(raw: bytes | str) -> str | None:
    """The top-level ``hook_event_name`` of a payload that may not parse at all (too deep,
    cut short): a deep ``tool_input`` can neither hide it nor fake it with a nested one."""
    return bounded_json.top_level_string(raw, "hook_event_name", max_length=100)


class HookProtocol(ABC):
    """One vendor's hook protocol: read its payloads, write its answers. Nothing else."""

    vendor: ClassVar[str]
    """``claude-code``, ``codex``, ``gemini``: the agent rows' vendor, the CLI argument."""
    title: ClassVar[str]
    """The CLI as a manager names it (``Codex``)."""
    agent_prefix: ClassVar[str]
    """Agent names are ``<agent_prefix>:<dir>``."""
    escalation_prefix: ClassVar[str]
    """Escalation ids are ``<escalation_prefix>-<session>-<call>``."""

    @property
    def origin(self) -> str:
        """What the hook writes is ingested as this origin (no collector adapter has it, so
        whoever answers the hook acknowledges the decision's outbox row itself)."""
        return f"{self.vendor}-hook"

    @property
    def sessions_namespace(self) -> str:
        return f"{self.vendor}.sessions"

    @abstractmethod
    def read(self, raw: bytes, config: HookConfig, context: HookContext) -> HookCall:
        """Read one payload.

        Raises:
            PayloadError: it is not this CLI's hook payload (one line).
        """

    @abstractmethod
    def gate_answer(self, call: HookCall, verdict: Verdict, context: HookContext) -> HookAnswer:
        """The CLI's answer to a gated tool call."""

    def review_answer(self, call: HookCall, outcome: Outcome) -> HookAnswer:
        """The answer to a reviewed stop (only vendors that review stops override it)."""
        return HookAnswer(None, 0, "", outcome)

    @abstractmethod
    def failure(
        self, call: HookCall | None, raw: bytes, reason: str, config: HookConfig
    ) -> HookAnswer:
        """The answer when something of ours failed: an explicit "no" to any gate.

        Args:
            call: the call, or None when the payload itself was unusable (``raw``).
        """

    def escalation_id(self, call: HookCall, context: HookContext) -> str:
        return f"{self.escalation_prefix}-{short(call.session_id)}-{context.call_id[:16]}"


# ----------------------------------------------------------------------------- the flow


async def handle(
    call: HookCall,
    *,
    protocol: HookProtocol,
    bridge: Bridge,
    session_agent: str,
    config: HookConfig,
    context: HookContext,
    policy: PolicyCheck | None = None,
    memory: ApprovalMemory | None = None,
) -> HookAnswer:
    """Translate one hook call, emit its events, wait if it needs a manager, answer."""
    t = Translator(call, session_agent, bridge.source, protocol.title)
    events: list[Event] = t.seen()
    if call.intent == "gate":
        return await _gate(call, t, events, protocol, bridge, config, context, policy, memory)
    if call.intent == "review" and config.review_stop:
        escalation_id = protocol.escalation_id(call, context)
        events.append(t.status("blocked", "waiting for review before stopping"))
        events.append(t.stop_escalation(escalation_id))
        outcome = await bridge.escalate(
            events,
            escalation_id,
            within=config.timeout,
            default_label="stop",
            progress_every=config.progress_every,
            why_gone=context.why_gone,
        )
        instruction = continue_text(outcome)
        after = (
            t.status("working", f"continuing: {instruction}")
            if instruction
            else t.status(call.state or "idle", call.activity)
        )
        await _emit_quietly(bridge, [after])
        answer = protocol.review_answer(call, outcome)
        answer.events = [*events, after]
        return answer
    if call.intent in ("status", "review") and call.state:
        events.append(t.status(call.state, call.activity))
    else:
        events.append(t.log(call.activity or f"{call.event} hook"))
    await bridge.emit(events)
    return HookAnswer(None, 0, "", None, events)


async def _gate(
    call: HookCall,
    t: Translator,
    events: list[Event],
    protocol: HookProtocol,
    bridge: Bridge,
    config: HookConfig,
    context: HookContext,
    policy: PolicyCheck | None,
    memory: ApprovalMemory | None,
) -> HookAnswer:
    what = call.title
    if call.approval_memory == "recall" and call.approval_key and memory is not None:
        earlier = await memory.recall(call.approval_key)
        if earlier is not None:
            earlier_id, by = earlier
            outcome = Outcome(earlier_id, "approve", f"as approved in {earlier_id}", decided_by=by)
            events.append(t.status("working", f"approved earlier by {by}: {what}"))
            await bridge.emit(events)
            answer = protocol.gate_answer(call, verdict_of(outcome, config.default), context)
            answer.outcome, answer.events = outcome, events
            return answer
    escalation_id = protocol.escalation_id(call, context)
    events.append(t.status("blocked", f"waiting for approval: {what}"))
    events.append(t.escalation(escalation_id))
    try:
        outcome = await _raise_and_wait(events, escalation_id, bridge, config, context, policy)
    except asyncio.CancelledError:
        # Stopped while the raise or the rules were still at work: nobody will wait.
        await bridge.withdraw(escalation_id, context.gone_reason())
        raise
    remember = call.approval_memory == "remember" and call.approval_key
    if outcome.action == "approve" and remember and memory is not None:
        with contextlib.suppress(*STORE_ERRORS):  # a lost memory only asks once more
            await memory.remember(remember, escalation_id, outcome.decided_by or "?")
    answer = protocol.gate_answer(call, verdict_of(outcome, config.default), context)
    after = _after(t, outcome, what, config.default)
    await _emit_quietly(bridge, [after])
    if not outcome.decided and not answer.stderr:
        answer.stderr = f"swarmdeck: {outcome.reason}"
    answer.outcome, answer.events = outcome, [*events, after]
    return answer


async def _raise_and_wait(
    events: list[Event],
    escalation_id: str,
    bridge: Bridge,
    config: HookConfig,
    context: HookContext,
    policy: PolicyCheck | None,
) -> Outcome:
    events_to_wait: Sequence[Event] = events
    if policy is not None:
        # The rules answer first, in this process: an auto-approve needs no collector.
        await bridge.emit(events)
        events_to_wait = ()
        try:
            await policy(escalation_id)
        except STORE_ERRORS:
            raise
        except Exception:  # noqa: S110 - a broken rule must not deny: a human decides
            pass
    return await bridge.escalate(
        events_to_wait,
        escalation_id,
        within=config.timeout,
        default_label=config.default,
        progress_every=config.progress_every,
        why_gone=context.why_gone,
    )


def _after(t: Translator, outcome: Outcome, what: str, default: Default) -> Event:
    if outcome.action == "approve":
        return t.status("working", f"approved by {outcome.decided_by}: {what}")
    if outcome.action == "reroute":
        return t.status("working", f"rerouted to {outcome.target}: {what}")
    if outcome.decided:
        return t.status("working", f"{outcome.action} by {outcome.decided_by}: {what}")
    return t.status("working", f"no decision ({outcome.reason}); answered {default}: {what}")


async def _emit_quietly(bridge: Bridge, events: Sequence[Event]) -> None:
    """Status after the answer is known: never let it lose the answer itself."""
    with contextlib.suppress(Exception):  # the decision matters more than the status row
        await bridge.emit(events)


def unavailable(reason: str) -> Outcome:
    """The outcome of a wait that could not happen (the store is down, a bug)."""
    return Outcome("", UNAVAILABLE, reason)


# ----------------------------------------------------------------------------- on a store


class StateMemory:
    """:class:`ApprovalMemory` in ``adapter_state``: ``<vendor>.approved``, key -> the
    approving escalation, who approved and when; stale after :data:`APPROVAL_MEMORY_SECONDS`."""

    def __init__(self, store: Store, vendor: str, clock: Callable[[], float]) -> None:
        self.store = store
        self.namespace = f"{vendor}.approved"
        self.clock = clock

    async def recall(self, key: str) -> tuple[str, str] | None:
        value = await self.store.get_state(self.namespace, key)
        if value is None:
            return None
        await self.store.delete_state(self.namespace, key)
        try:
            data = json.loads(value)
            fresh = self.clock() - float(data["at"]) <= APPROVAL_MEMORY_SECONDS
            found = (str(data["escalation"]), str(data["by"]))
        except (ValueError, KeyError, TypeError):
            return None
        return found if fresh else None

    async def remember(self, key: str, escalation_id: str, decided_by: str) -> None:
        value = {"escalation": escalation_id, "by": decided_by, "at": self.clock()}
        await self.store.set_state(self.namespace, key, json.dumps(value))


def read_call(
    protocol: HookProtocol, raw: bytes, config: HookConfig, context: HookContext
) -> HookCall:
    """Read one payload (the size is checked first).

    Raises:
        PayloadError: not this CLI's payload.
    """
    if len(raw) > MAX_PAYLOAD:
        raise PayloadError(f"hook payload larger than {MAX_PAYLOAD} bytes")
    return protocol.read(raw, config, context)


async def answer_on_store(
    protocol: HookProtocol,
    call: HookCall,
    raw: bytes,
    *,
    store: Store,
    config: HookConfig,
    context: HookContext,
    filters: Sequence[IngestFilter] = (),
    policy: PolicyCheck | None = None,
    clock: Callable[[], float],
    waiter: str | None = None,
) -> HookAnswer:
    """One call on an open store: name the session, emit, wait, answer.

    The store path of the hook command and the collector's hook socket both run this.
    A store that fails on the way ends in the vendor's failure answer, never a raise.

    Args:
        waiter: what waits on the escalations (default ``swarmdeck hook <vendor>``).
    """
    try:
        # The same guardrails as the collector: a secret in a tool's input is masked
        # before it is stored, shown, or copied into the audit by a decision.
        # poll=0.1: PRAGMA data_version every 25 ms, so a manager's decision reaches the
        # waiting CLI well within 50 ms (one indexed look every 100 ms regardless).
        bridge = StoreBridge(
            store, origin=protocol.origin, filters=filters, poll=0.1,
            waiter=waiter or f"swarmdeck hook {protocol.vendor}",
        )  # fmt: skip
        name = await session_agent_name(
            store, protocol.sessions_namespace, protocol.agent_prefix, call.session_id,
            call.cwd, clock(),
        )  # fmt: skip
        answer = await handle(
            call,
            protocol=protocol,
            bridge=bridge,
            session_agent=name,
            config=config,
            context=context,
            policy=policy,
            memory=StateMemory(store, protocol.vendor, clock),
        )
        if call.ends_session:
            await release_session_agent(store, protocol.sessions_namespace, call.session_id)
        return answer
    except STORE_ERRORS as exc:
        return protocol.failure(call, raw, f"store unavailable ({one_line(exc)})", config)


def protocol_for(vendor: str) -> HookProtocol:
    """The protocol of ``vendor`` (``claude-code``, ``codex``, ``gemini``).

    Raises:
        KeyError: no such vendor.
    """
    from swarmdeck.adapters.hooks import VENDORS

    protocol = importlib.import_module(VENDORS[vendor]).PROTOCOL
    assert isinstance(protocol, HookProtocol)
    return protocol


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]
