"""The model refresh loop (k9s' idea): the models refresh on their own and tell listeners.

The App does not route poll results by hand: each part that cares subscribes (the
attention toast, the graph, the marks of the decision controller, the pane titles) and
is called, in subscription order, with what the last poll changed.

On a store that pushes its changes (PostgreSQL's ``LISTEN/NOTIFY``) there is no timer:
the refresher waits in :meth:`Store.wait_for_change` and refreshes when it returns,
so an idle deck sends the server nothing but one read a second (inbox items still age
out on time). On SQLite it polls the change counter on a timer, as before.

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

#: On a pushing store, the longest wait without a change before looking anyway (the
#: inbox ages decided items out; a lost notification costs at most this).
FOLLOW_TIMEOUT = 1.0


class ModelRefresher:
    """Keeps :class:`Models` current and notifies listeners of each change."""

    def __init__(self, models: Models) -> None:
        self.models = models
        #: The last poll's failure, or None once a poll succeeds again.
        self.error: str | None = None
        self._listeners: list[Listener] = []
        self._lock = asyncio.Lock()
        self._follower: asyncio.Task[None] | None = None

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def start(self, set_interval: Callable[..., Timer], interval: float) -> None:
        """Follow the store's pushed changes, or poll every ``interval`` seconds on the
        given timer source (the App's) when the store cannot push."""
        store = self.models.store
        if store is not None and store.pushes_changes:
            idle = max(interval, FOLLOW_TIMEOUT)
            self._follower = asyncio.create_task(self._follow(idle), name="follow")
        else:
            set_interval(interval, self.tick, name="poll")

    async def stop(self) -> None:
        """Stop following the store (the timer stops with its App)."""
        follower, self._follower = self._follower, None
        if follower is not None:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)

    async def _follow(self, idle: float) -> None:
        store = self.models.store
        assert store is not None
        while True:
            try:
                await store.wait_for_change(self.models.rev, idle)
            except Exception as exc:  # the server went away: say so, look again soon
                self.error = f"store: {exc}"
                await asyncio.sleep(idle)
            await self.tick()

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
