"""``n`` / ``N``: go to the next (previous) item waiting on a human, wherever it shows.

What waits on a human is an open escalation; the order is the Inbox's (most urgent,
then oldest). A jump puts the Inbox cursor on the item and brings the other panes
along: the Swarm's cursor on its agent, the Workflow pane on its workflow with the
cursor on its node. Focus goes to the Inbox; with one pane shown (``--pane swarm``),
focus stays where it is and that pane follows. A filter that hides every waiting item
is named rather than silently jumping nowhere.

A controller like :mod:`tui.command_line`: the App binds the keys and calls it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from swarmdeck.store.models import Escalation
from swarmdeck.tui.safe_text import clean

if TYPE_CHECKING:
    from swarmdeck.tui.app import SwarmdeckApp


def next_waiting(
    order: list[str], open_keys: set[str], current: str | None, step: int
) -> str | None:
    """The open item after (``step`` 1) or before (-1) ``current`` in ``order``, wrapping;
    the first (last) one when ``current`` is not an open item of the list. Pure."""
    waiting = [k for k in order if k in open_keys]
    if not waiting:
        return None
    if current not in order:
        return waiting[0] if step > 0 else waiting[-1]
    here = order.index(current)
    # Walk the list from the current row: a decided row under the cursor still has a
    # place, and the next waiting item is the first one after that place.
    ahead = [k for k in order[here + 1 :] if k in open_keys] if step > 0 else []
    behind = [k for k in order[:here] if k in open_keys] if step < 0 else []
    if step > 0:
        return ahead[0] if ahead else waiting[0]
    return behind[-1] if behind else waiting[-1]


class Jumper:
    """Moves every pane to the next item waiting on a human."""

    def __init__(self, app: SwarmdeckApp) -> None:
        self.app = app

    async def jump(self, step: int) -> None:
        app = self.app
        inbox = app.models.inbox
        open_keys = {k for k, e in inbox.items.items() if e.state == "open"}
        key = next_waiting(inbox.order, open_keys, app.inbox_list.current, step)
        if key is None:
            hidden = len(open_keys)
            if hidden and inbox.filter:
                app.say(
                    f"{hidden} waiting, hidden by the filter /{inbox.filter.text} (esc clears it)",
                    severity="warning",
                )
            else:
                app.say("nothing is waiting on a human")
            return
        e = inbox.items[key]
        app.inbox_list.move_to(inbox.index[key])
        self._follow_in_swarm(e)
        await self._follow_in_workflow(e)
        if app.tui.pane in ("all", "inbox"):
            app.action_pane("inbox")
        waiting = [k for k in inbox.order if k in open_keys]
        app.say(
            f"{waiting.index(key) + 1} of {len(waiting)} waiting: "
            f"{clean(e.title, max_len=80, single_line=True)}"
        )

    def _follow_in_swarm(self, e: Escalation) -> None:
        swarm = self.app.models.swarm
        if e.agent and e.agent in swarm.index:
            self.app.swarm_list.move_to(swarm.index[e.agent])

    async def _follow_in_workflow(self, e: Escalation) -> None:
        app = self.app
        if not e.workflow:
            return
        if app.models.workflow_name != e.workflow:
            await app.select_workflow(e.workflow)
        graph = app.graph
        for node in graph.real_nodes():
            if e.task and node.task == e.task:
                graph.cursor = node.id
                graph.rebuild()
                break
