"""The adapter contract: how agent systems feed swarmdeck and receive decisions.

An adapter is a plain object (never a widget) that the collector's supervisor runs
in its own asyncio task. Required behaviour is abstract; optional behaviour is a
capability flag with a default method, so a one-way adapter stays a few lines long.

Options are declared once, as a pydantic model on the class (:attr:`Adapter.Options`):
the config file, ``swarmdeck adapters`` and the docs are all generated from it.
"""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from swarmdeck.store.db import Store
from swarmdeck.store.events import Event
from swarmdeck.store.isolate import Isolated
from swarmdeck.store.models import Delivery


class AdapterOptions(BaseModel):
    """Base of every adapter's options. Unknown keys are errors that name the key."""

    model_config = ConfigDict(extra="forbid")


@dataclass(slots=True)
class Rejected:
    """Input an adapter could not turn into an event; it goes to the dead letters."""

    location: str
    """Where it came from, e.g. ``"events.jsonl:42"`` or ``"POST /hook"``."""
    raw: bytes | str
    error: str


@dataclass(slots=True)
class Batch:
    """What an adapter yields: events, and what must be saved atomically with them.

    ``position`` is the adapter's resume point (file offsets, a cursor) after these
    events; the supervisor stores it in the same transaction as the events, which is
    what makes "a restart neither re-reads nor skips" true.
    """

    events: list[Event] = field(default_factory=list)
    position: dict[str, str] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)


class DeliveryError(Exception):
    """Delivering a decision failed.

    Args:
        message: one line, shown in the inbox next to the decision.
        retryable: False when trying again cannot help (the agent is gone, the request
            was refused as invalid); the outbox then marks the delivery failed at once.
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


HealthSetter = Callable[[str, str], Awaitable[None]]


@dataclass(slots=True)
class AdapterContext:
    """What the supervisor gives an adapter instance.

    Attributes:
        name: the instance name (``[[adapters]] name``); the ``origin`` of its events.
        store: the shared store, for reading the adapter's saved position
            (:meth:`Store.get_states`) and for adapters that answer synchronously.
        set_health: report ``(state, detail)``, e.g. ``("degraded", "HTTP 503 from ...")``;
            shown in the app's adapter list.
        clock: wall-clock seconds, injectable in tests.
        log: a logger named after the instance.
        listener_token: the bearer token HTTP listeners require (see ``swarmdeck.tokens``),
            read per request so a rotation applies at once; None when the collector gave
            none, and a listener that requires a token then refuses to start.
        commit: store a batch *now* (filtered, fenced by this collector's lease) and
            return its counts, for adapters that answer a client only once its input is
            stored. An event the store cannot take goes to the dead letters and is named
            in ``poisoned`` (by its index in ``batch.events``) while the rest lands.
            Raises :class:`~swarmdeck.store.errors.LeaseLost` when this collector no
            longer leads the instance. None outside a supervisor.
    """

    name: str
    store: Store
    set_health: HealthSetter
    clock: Callable[[], float] = time.time
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("swarmdeck.adapter"))
    listener_token: Callable[[], str] | None = None
    commit: Callable[[Batch], Awaitable[Isolated]] | None = None


class Adapter(abc.ABC):
    """Base class of every adapter.

    Subclasses set :attr:`type_name`, :attr:`description` and :attr:`Options`, and
    implement :meth:`events`. Two-way adapters also set :attr:`two_way` and implement
    :meth:`deliver`.
    """

    #: The ``type`` used in configuration, e.g. ``"jsonl"``.
    type_name: ClassVar[str]
    #: One line for ``swarmdeck adapters``.
    description: ClassVar[str] = ""
    #: The options model: each field is one configuration key (with a docstring).
    Options: ClassVar[type[AdapterOptions]] = AdapterOptions
    #: Capability: decisions on escalations this adapter raised can be sent back.
    two_way: ClassVar[bool] = False

    def __init__(self, options: AdapterOptions, context: AdapterContext) -> None:
        self.options = options
        self.context = context

    @property
    def name(self) -> str:
        return self.context.name

    @abc.abstractmethod
    def events(self) -> AsyncIterator[Event | Batch]:
        """Yield events (or batches) as they arrive, forever or until the source ends.

        Implement as an ``async def`` generator. The supervisor batches what is
        yielded into store transactions, so yield as soon as something is known.
        Raising restarts the adapter with backoff; returning means the source is
        exhausted (the adapter is then shown as stopped, not crashed).

        Cleanup belongs in ``try``/``finally``: the task is cancelled at shutdown.
        """

    async def deliver(self, delivery: Delivery) -> None:
        """Carry a decision back to the agent that raised the escalation.

        Called only when :attr:`two_way` is true, possibly more than once for the same
        decision (after a crash between delivery and acknowledgement): make it
        idempotent, e.g. with ``delivery.decision.id`` as an idempotency key.

        Raises:
            DeliveryError: the delivery failed; ``retryable`` says whether to try again.
        """
        raise DeliveryError(
            f"adapter type {self.type_name!r} cannot deliver decisions", retryable=False
        )

    @classmethod
    def parse_options(cls, raw: dict[str, Any]) -> AdapterOptions:
        """Validate raw configuration for this adapter type (raises pydantic's error)."""
        return cls.Options.model_validate(raw)
