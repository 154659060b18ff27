"""Every agent row says what kind of agent it is: the vendor stamp on ``agent.seen``.

A hook knows its vendor (``codex``) and says so; an adapter's agents often do not (a
JSONL log, an HTTP sender, the demo). For those the collector fills ``vendor`` in from
the type of the adapter instance that ingested them, so the Swarm pane, ``ls agents``,
the ``/vendor:`` filter and policy rules all have one to go by.
"""

from __future__ import annotations

from collections.abc import Mapping

from swarmdeck.adapters.supervisor import IngestFilter
from swarmdeck.store.events import AgentSeen, Event


class VendorStamp:
    """An ingest filter: ``agent.seen`` without a vendor gets its origin's adapter type.

    Args:
        types: adapter instance name (the events' origin) -> adapter type.
    """

    def __init__(self, types: Mapping[str, str]) -> None:
        self.types = dict(types)

    async def __call__(self, events: list[Event], origin: str) -> list[Event]:
        vendor = self.types.get(origin)
        if vendor is None or not any(isinstance(e, AgentSeen) for e in events):
            return events
        out: list[Event] = []
        for event in events:
            if isinstance(event, AgentSeen) and event.data.vendor is None:
                data = event.data.model_copy(update={"vendor": vendor})
                event = event.model_copy(update={"data": data})
            out.append(event)
        return out

    def mask_raw(self, raw: bytes | str) -> bytes | str:
        return raw  # nothing to hide: it only adds a field


def stamp_vendor(types: Mapping[str, str]) -> IngestFilter:
    """The :class:`VendorStamp` for these adapter instances."""
    return VendorStamp(types)
