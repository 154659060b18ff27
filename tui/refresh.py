"""The model refresh loop (k9s' idea): the models refresh on their own and tell listeners.

The App does not route poll results by hand: each part that cares subscribes (the
attention toast, the graph, the marks of the decision controller, the pane titles) and
is called, in subscription order, with what the last poll changed.

A timer tick that finds the previous refresh still running is dropped, so a slow disk
never piles polls up behind each other. An explicit :meth:`ModelRefresher.refresh`
(after a decision) waits for the running one and then reads again, so what the manager
just did is always in the models when it returns. A store error is kept in ``error``
(the status line shows it) and the loop carries on: a locked or vanished database must
not kill the UI.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from textual.timer import Timer

from swarmdeck.store.errors import StoreError
from swarmdeck.tui.model import Models, PollResult

Listener = Callable[[PollResult], None]


class ModelRefresher:
    """Keeps :class:`Models` current and notifies listeners of each change."""

    def __init__(self, models: Models) -> None:
        self.models = models
        #: The last poll's failure, or None once a poll succeeds again.
        self.error: str | None = None
        self._listeners: list[Listener] = []
        self._lock = asyncio.Lock()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def start(self, set_interval: Callable[..., Timer], interval: float) -> Timer:
        """Poll every ``interval`` seconds on the given timer source (the App's)."""
        return set_interval(interval, self.tick, name="poll")

    async def tick(self) -> None:
        """One timer poll; dropped while a refresh is still running."""
        if not self._lock.locked():
            await self.refresh()

    async def refresh(self, *, force_workflow: bool = False) -> PollResult | None:
        """Poll now, after any refresh in progress; None when the store failed."""
        async with self._lock:
            return await self._run(self.models.poll(force_workflow=force_workflow))

    async def select_workflow(self, name: str) -> PollResult | None:
        """Show ``name`` in the workflow pane from now on (the manager's choice sticks)."""
        async with self._lock:
            return await self._run(self.models.select_workflow(name))

    async def _run(self, poll: Awaitable[PollResult]) -> PollResult | None:
        try:
            result = await poll
        except StoreError as exc:
            self.error = str(exc)
            return None
        except Exception as exc:  # a locked or vanished database must not kill the UI
            self.error = f"store: {exc}"
            return None
        self.error = None
        for listener in self._listeners:
            listener(result)
        return result
