"""The decision flow: the keys that decide, and everything between a key and the store.

One controller owns the deciding context (lazygit's controllers: one controller per
context owns its keys and actions; the App wires them): approve; reject with a reason;
reroute to a picked target, with a reason; retry; answer a question with one of its
options (or in words, when it offers none); the same over marked items with a
confirmation that lists each one; retrying a failed workflow node; and the hand-off to
"decide and make a rule". The keys work on the Inbox, on an agent in the Swarm (its
open escalation) and in the details views.

Approving what cannot be undone (a high or critical item, or one matching
``tui.confirm_patterns``) asks for a second keystroke. The store's compare-and-set
settles races, and whoever loses is told who decided first and when. A read-only
session, an open ``:`` prompt and a key with nothing to act on are refused with a
reason, never with silence.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widget import Widget

from swarmdeck.store.actions import act_on_task
from swarmdeck.store.answers import check_answer
from swarmdeck.store.errors import AlreadyDecided, InvalidDecision, NotFound
from swarmdeck.store.events import Action
from swarmdeck.store.models import Escalation, WorkflowNode
from swarmdeck.tui.model import PollResult
from swarmdeck.tui.render import ACTION_PAST, short_duration
from swarmdeck.tui.safe_text import clean, safe
from swarmdeck.tui.screens.make_rule import MakeRuleScreen
from swarmdeck.tui.screens.modals import AnswerScreen, ConfirmScreen, PickScreen, ReasonScreen
from swarmdeck.tui.widgets.graph import WorkflowGraph
from swarmdeck.tui.widgets.lists import InboxList, SwarmList

if TYPE_CHECKING:
    from swarmdeck.tui.app import SwarmdeckApp

#: The decisions a manager makes from the inbox, the details view and the palette.
DECISION_VERBS: tuple[Action, ...] = ("approve", "reject", "reroute", "retry", "answer")

#: Bindings that decide: hidden, disabled and explained in a read-only session.
DECISION_BINDING_IDS = frozenset(
    {"inbox.approve", "inbox.reject", "inbox.reroute", "inbox.retry", "inbox.answer"}
    | {"inbox.make_rule", "graph.retry"}
    | {"swarm.approve", "swarm.reject", "swarm.reroute", "swarm.retry", "swarm.answer"}
    | {"details.approve", "details.reject", "details.reroute", "details.retry"}
    | {"details.answer"}
)


class DecisionController:
    """Owns the decision keys and actions of the inbox, the details view and the graph."""

    def __init__(self, app: SwarmdeckApp) -> None:
        self.app = app
        self._deciding = False

    # ------------------------------------------------------------------ read-only

    def refuse_read_only(self) -> bool:
        """True (and the manager is told why) when this session may not decide."""
        if self.app.read_only:
            self.app.say("read-only: decisions are disabled for this session", severity="warning")
            return True
        return False

    def decision_keys(self, widget: Widget) -> set[str]:
        """The keys (after remapping) that are decision keys on ``widget``."""
        keys: set[str] = set()
        for key, bindings in widget._bindings.key_to_bindings.items():
            for b in bindings:
                if b.id in DECISION_BINDING_IDS:
                    mapped = self.app._keymap.get(b.id)
                    keys.update(k.strip() for k in mapped.split(",")) if mapped else keys.add(key)
        return keys

    def refuses_key(self, focused: Widget | None, key: str) -> bool:
        """A decision key in a read-only session: disabled (so it would do nothing), so say
        why. True when the key is answered and must go no further."""
        if (
            self.app.read_only
            and isinstance(focused, (InboxList, SwarmList, WorkflowGraph))
            and key in self.decision_keys(focused)
        ):
            self.refuse_read_only()
            return True
        return False

    def refuse_prompt_open(self) -> bool:
        """True (and said) while the ``:`` or ``/`` prompt is on screen: keys typed there
        are words, never decisions."""
        if self.app.command_line.is_open:
            self.app.say("the prompt is open: enter runs it, esc closes it", severity="warning")
            return True
        return False

    # ------------------------------------------------------------------ what to act on

    def why_not(self, escalation_id: str) -> str | None:
        """Why ``escalation_id`` cannot be decided now (None: it can)."""
        if self.app.read_only:
            return "read-only: decisions are disabled for this session"
        e = self.app.models.inbox.items.get(escalation_id)
        if e is None or e.state == "open":
            return None
        if e.state == "decided" and e.decided_by:
            ago = short_duration(self.app.clock() - (e.decided_ts or self.app.clock()))
            return (
                f"nothing to decide: already decided by {clean(e.decided_by, max_len=80)} "
                f"({ago} ago)"
            )
        return f"nothing to decide: {clean(e.id, max_len=60)} is {e.state}"

    def waiting_for(self, agent: str) -> list[Escalation]:
        """The agent's open escalations, most urgent first (the inbox's order)."""
        inbox = self.app.models.inbox
        found = [e for e in inbox.items.values() if e.state == "open" and e.agent == agent]
        return sorted(found, key=lambda e: inbox.index.get(e.id, len(inbox.order)))

    def why_not_agent(self, agent: str) -> str | None:
        """Why nothing can be decided for ``agent`` now (None: it waits on something)."""
        if self.app.read_only:
            return "read-only: decisions are disabled for this session"
        if self.waiting_for(agent):
            return None
        a = self.app.models.swarm.agents.get(agent)
        state = f" ({a.state})" if a is not None else ""
        return f"nothing to decide: {clean(agent, max_len=80)}{state} has no open escalation"

    def request_for_agent(self, agent: str, action: Action) -> None:
        """A decision key on an agent: act on its most urgent open escalation."""
        if self.refuse_read_only() or self.refuse_prompt_open():
            return
        waiting = self.waiting_for(agent)
        if not waiting:
            self.app.say(self.why_not_agent(agent) or "nothing to decide", severity="warning")
            return
        if len(waiting) > 1:
            self.app.say(
                f"{clean(agent, max_len=80)} waits on {len(waiting)}: this is the most urgent "
                "(n jumps to the next)"
            )
        self.request(action, [waiting[0].id])

    # ------------------------------------------------------------------ from the models

    def models_changed(self, result: PollResult) -> None:
        """Someone else decided (or the agent withdrew) a marked item: drop its mark, say so."""
        if not result.inbox_changed:
            return
        app = self.app
        for key in app.inbox_list.prune_marks():
            gone = app.models.inbox.items.get(key)
            if gone is not None:
                self.say_too_late(gone, "mark")

    def say_too_late(self, e: Escalation, action: str) -> None:
        """Tell plainly that someone else decided first (or the agent withdrew)."""
        outcome = "Its mark was dropped." if action == "mark" else f"Your {action} was not applied."
        clock = self.app.clock
        if e.state == "decided" and e.decided_by:
            ago = short_duration(clock() - (e.decided_ts or clock()))
            self.app.say(
                f"Too late: {clean(e.id, max_len=60)} was already decided by "
                f"{clean(e.decided_by, max_len=80)} ({ago} ago). {outcome}",
                severity="warning",
                timeout=10,
            )
        else:
            self.app.say(
                f"Too late: {clean(e.id, max_len=60)} is {e.state}. {outcome}",
                severity="warning",
                timeout=10,
            )

    # ------------------------------------------------------------------ escalations

    def request(self, action: Action, keys: list[str], *, confirm: bool = False) -> None:
        """Decide ``keys``: asks for what the action needs, then writes each decision.

        ``confirm`` (the keys come from marks) always shows the plan before anything is
        written; more than one key always does too.
        """
        if self.refuse_read_only() or self.refuse_prompt_open():
            return
        if self._deciding:
            # Keys typed ahead of a dialog land here: never let them replace the decision
            # in progress (a fast "d" + "bad" must not become an approve).
            self.app.say(
                "finish the decision in progress first (esc cancels it)", severity="warning"
            )
            return
        self._deciding = True
        # A worker: the dialogs are awaited (push_screen_wait) while the app runs on.
        self.app.run_worker(self._flow(action, keys, confirm), group="decide", exit_on_error=False)

    async def _flow(self, action: Action, keys: list[str], confirm: bool) -> None:
        try:
            await self._steps(action, keys, confirm)
        finally:
            self._deciding = False

    async def _steps(self, action: Action, keys: list[str], confirm: bool) -> None:
        app = self.app
        known = [app.models.inbox.items[k] for k in keys if k in app.models.inbox.items]
        items = [e for e in known if e.state == "open"]
        for e in known:
            if e.state != "open":
                self.say_too_late(e, action)
        if not items:
            if not known:
                app.say("nothing to decide: that escalation is gone", severity="warning")
            return
        reason: str | None = None
        target: str | None = None
        answer: str | None = None
        what = items[0] if len(items) == 1 else None
        subject = (
            Text.assemble(
                f"{action} ",
                safe(what.title, max_len=200, single_line=True),
                f" ({clean(what.agent or '-', max_len=60)})",
            )
            if what
            else Text(f"{action} {len(items)} escalations")
        )
        if action == "reroute":
            choices = self.reroute_choices(items)
            if not choices:
                app.say(
                    "no reroute target: the escalation names none and no other agent has that role",
                    severity="warning",
                )
                return
            target = await app.push_screen_wait(
                PickScreen(Text.assemble("Reroute to… ", subject), choices)
            )
            if not target:
                return
            reason = await app.push_screen_wait(
                ReasonScreen(
                    Text.assemble(
                        f"Reason for rerouting to {clean(target, max_len=80)}: ", subject
                    ),
                    value=f"rerouted to {target}",
                )
            )
            if not reason:
                return
        elif action == "reject":
            reason = await app.push_screen_wait(
                ReasonScreen(Text.assemble("Reject: the agent is told why. ", subject))
            )
            if not reason:
                return
        elif action == "answer":
            answer = await self._ask_answer(items)
            if answer is None:
                return
        if len(items) > 1 or confirm:
            lines = [plan_line(action, e, reason, target) for e in items]
            ok = await app.push_screen_wait(
                ConfirmScreen(f"{action} {len(items)} escalations?", lines)
            )
            if not ok:
                return
        elif action == "approve" and (why := self.needs_confirm(items[0])):
            line = plan_line(action, items[0], reason, target)
            ok = await app.push_screen_wait(
                ConfirmScreen(
                    f"approve this? {why}", [line], again=frozenset(self._keys_for("approve"))
                )
            )
            if not ok:
                return
        await self.apply(action, items, reason=reason, target=target, answer=answer)

    async def _ask_answer(self, items: list[Escalation]) -> str | None:
        """The answer dialog (one question at a time); None when cancelled or refused."""
        app = self.app
        if len(items) != 1:
            app.say("answer one question at a time (unmark the others)", severity="warning")
            return None
        e = items[0]
        if e.kind != "question":
            app.say(
                f"{clean(e.id, max_len=60)} is a {e.kind}, not a question: approve (a), "
                "reject (d), reroute (o) or retry (r) it",
                severity="warning",
            )
            return None
        prompt = Text.assemble(
            "Answer ",
            safe(e.title, max_len=200, single_line=True),
            f" ({clean(e.agent or e.workflow or '-', max_len=60)})",
        )
        body = safe(e.body, max_len=600, single_line=False) if e.body else None
        answer = await app.push_screen_wait(AnswerScreen(prompt, e.options, body))
        if not answer:
            return None
        try:
            return check_answer(answer, e.options)
        except InvalidDecision as exc:
            app.say(str(exc), severity="error")
            return None

    def needs_confirm(self, e: Escalation) -> str | None:
        """Why approving ``e`` asks for a second keystroke (None: it does not)."""
        tui = self.app.tui
        if e.severity in tui.confirm_severities:
            return f"It is {e.severity}."
        if tui.confirm_patterns:
            found = re.search(tui.confirm_patterns, f"{e.title}\n{e.body}", re.IGNORECASE)
            if found:
                return f"It mentions {found.group(0)!r}."
        return None

    def _keys_for(self, action: str) -> set[str]:
        """The keys (as mapped) that ask for ``action`` on a list: what confirms it again."""
        ids = {f"{where}.{action}" for where in ("inbox", "swarm", "details")}
        keys: set[str] = set()
        for widget in (self.app.inbox_list, self.app.swarm_list):
            for key, bindings in widget._bindings.key_to_bindings.items():
                for b in bindings:
                    if b.id in ids:
                        mapped = self.app._keymap.get(b.id)
                        if mapped:
                            keys.update(k.strip() for k in mapped.split(","))
                        else:
                            keys.add(key)
        return keys

    def reroute_choices(self, items: list[Escalation]) -> list[tuple[str, Text]]:
        """The agents' own suggestions first, then each source's role and its idle peers."""
        out: list[tuple[str, Text]] = []
        seen: set[str] = set()
        agents = self.app.models.swarm.agents
        for e in items:
            for t in e.reroute_targets or []:
                if t not in seen:
                    seen.add(t)
                    kind = "agent" if t in agents else "role/target"
                    out.append((t, safe(f"{t}  ({kind}, suggested by the agent)", max_len=200)))
        for e in items:
            src = agents.get(e.agent or "")
            if src is None:
                continue
            peers = sorted(
                (a for a in agents.values() if a.role == src.role and a.name != src.name),
                key=lambda a: (a.state not in ("idle", "done"), a.name),
            )
            # "Any planner" only when another planner exists: a reroute must move the task.
            if src.role and peers and f"role:{src.role}" not in seen:
                seen.add(f"role:{src.role}")
                out.append(
                    (f"role:{src.role}", safe(f"role:{src.role}  (any {src.role})", max_len=200))
                )
            for a in peers[:20]:
                if a.name not in seen:
                    seen.add(a.name)
                    out.append((a.name, safe(f"{a.name}  ({a.role}, {a.state})", max_len=200)))
        return out

    async def apply(
        self,
        action: Action,
        items: list[Escalation],
        *,
        reason: str | None = None,
        target: str | None = None,
        answer: str | None = None,
    ) -> None:
        """Write each decision; carry on past a lost race or a failure and report each."""
        app = self.app
        done = 0
        lost: list[AlreadyDecided] = []
        failed: list[str] = []
        decided: list[str] = []
        for e in items:
            try:
                await app.store.decide(
                    e.id,
                    action,
                    actor=app.actor,
                    reason=reason,
                    target=target,
                    answer=answer,
                    host=app.decision_host,
                )
                done += 1
                decided.append(e.id)
            except AlreadyDecided as exc:
                lost.append(exc)
            except (InvalidDecision, NotFound) as exc:
                failed.append(f"{clean(e.id, max_len=60)}: {exc}")
            except Exception as exc:
                # e.g. the database stayed locked: report it and carry on with the rest.
                failed.append(f"{clean(e.id, max_len=60)}: not recorded ({exc})")
        app.inbox_list.advance_past(decided)
        for e in items:
            app.inbox_list.marked.discard(e.id)
        if done:
            what = (
                clean(items[0].title, max_len=80, single_line=True)
                if len(items) == 1
                else f"{done} escalations"
            )
            said = f" {clean(answer, max_len=80, single_line=True)!r}" if answer else ""
            app.say(f"{ACTION_PAST.get(action, action)}{said}: {what}")
        for loss in lost:
            if loss.by:
                ago = short_duration(app.clock() - (loss.at or 0))
                app.say(
                    f"Too late: {clean(loss.escalation, max_len=60)} was already decided by "
                    f"{clean(loss.by, max_len=80)} "
                    f"({ago} ago). Your {action} was not applied.",
                    severity="warning",
                    timeout=10,
                )
            else:
                app.say(f"Too late: {loss}", severity="warning", timeout=10)
        if failed and len(items) > 1:
            app.say(f"{done} decided, {len(failed)} failed", severity="error", timeout=10)
        for message in failed:
            app.say(message, severity="error", timeout=10)
        await app.poll()
        app.flush()
        app.update_titles()

    def make_rule(self, key: str) -> None:
        """Hand an open escalation to "decide and make a rule"; refresh when it closes."""
        if self.refuse_read_only():
            return
        app = self.app
        e = app.models.inbox.items.get(key)
        if e is None or e.state != "open":
            app.say("pick an open escalation to decide and make a rule", severity="warning")
            return
        app.push_screen(
            MakeRuleScreen(app.store, e, actor=app.actor, clock=app.clock, host=app.decision_host),
            self._ruled,
        )

    async def _ruled(self, _result: object) -> None:
        await self.app.poll()

    # ------------------------------------------------------------------ workflow nodes

    async def retry_node(self, node: WorkflowNode) -> None:
        """Retry a failed node's task (through its open escalation, or a new one)."""
        if self.refuse_read_only():
            return
        app = self.app
        if node.state != "failed" or not node.task:
            app.say(
                f"only a failed node can be retried ({node.id} is {node.state})", severity="warning"
            )
            return
        try:
            await act_on_task(
                app.store,
                node.task,
                "retry",
                actor=app.actor,
                reason="retry from the workflow graph",
                host=app.decision_host,
            )
        except AlreadyDecided as exc:
            app.say(f"Too late: {exc}", severity="warning")
            return
        except (InvalidDecision, NotFound) as exc:
            app.say(str(exc), severity="error")
            return
        app.say(f"retry requested for {node.id}")
        await app.refresher.refresh(force_workflow=True)


def plan_line(action: str, e: Escalation, reason: str | None, target: str | None) -> Text:
    """One line of a bulk confirmation: what will be done to which item, and why."""
    line = Text(f"{action} ")
    line.append(f"[{e.severity}] ")
    line.append_text(safe(e.title, max_len=120, single_line=True))
    line.append(f" · {clean(e.agent or e.workflow or '-', max_len=60)} · {clean(e.id, max_len=60)}")
    if target:
        line.append(f" → {clean(target, max_len=60)}")
    if reason:
        line.append(" · reason: ")
        line.append_text(safe(reason, max_len=200, single_line=True))
    return line
