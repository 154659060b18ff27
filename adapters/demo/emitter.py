"""Turning what happens in the simulated world into validated wire events.

Ids are ``<seed>-<run>-<counter>``: unique within a run, and a restarted demo (a new run)
never repeats one. The clock is read once per public call (:meth:`Emitter.begin`), so
every event a call produces carries the same timestamp and a fixed clock gives fixed
events.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from swarmdeck.adapters.demo.world import SimAgent, SimTask, SimWorkflow
from swarmdeck.store.events import EVENT_ADAPTER, Event


class Emitter:
    """Appends events to the list a simulation call returns."""

    def __init__(self, source: str, id_prefix: str, clock: Callable[[], float]) -> None:
        self.source = source
        self._id_prefix = id_prefix
        self._clock = clock
        self._counter = 0
        self._now = datetime.fromtimestamp(0, UTC)

    def begin(self) -> None:
        """Read the clock: the timestamp of every event until the next call."""
        self._now = datetime.fromtimestamp(self._clock(), UTC)

    def event(
        self,
        out: list[Event],
        kind: str,
        data: dict[str, Any],
        *,
        agent: str | None = None,
        task: str | None = None,
        workflow: str | None = None,
    ) -> None:
        self._counter += 1
        out.append(
            EVENT_ADAPTER.validate_python(
                {
                    "id": f"{self._id_prefix}{self._counter}",
                    "ts": self._now,
                    "source": self.source,
                    "kind": kind,
                    "agent": agent,
                    "task": task,
                    "workflow": workflow,
                    "data": data,
                }
            )
        )

    def status(
        self,
        out: list[Event],
        agent: SimAgent,
        state: str,
        activity: str,
        t: SimTask | None = None,
    ) -> None:
        self.event(
            out,
            "agent.status",
            {"state": state, "activity": activity},
            agent=agent.name,
            task=t.id if t else None,
            workflow=t.workflow.name if t else None,
        )

    def log(self, out: list[Event], t: SimTask, level: str, text: str) -> None:
        self.event(
            out,
            "log",
            {"level": level, "text": text},
            agent=t.agent.name if t.agent else None,
            task=t.id,
            workflow=t.workflow.name,
        )

    def workflow_log(self, out: list[Event], wf: SimWorkflow, level: str, text: str) -> None:
        self.event(out, "log", {"level": level, "text": text}, workflow=wf.name)
