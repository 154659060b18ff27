"""swarmdeck's store: the event model and the SQLite hub every other part reads and writes.

Nothing here imports Textual: the store is shared by the TUI, the headless
collector, the CLI and hook commands alike.
"""

from swarmdeck.store.db import Store
from swarmdeck.store.errors import (
    AlreadyDecided,
    InvalidDecision,
    NotFound,
    SchemaTooNew,
    StoreError,
)
from swarmdeck.store.events import Event, EventError, make_event, parse_event, parse_event_json

__all__ = [
    "AlreadyDecided",
    "Event",
    "EventError",
    "InvalidDecision",
    "NotFound",
    "SchemaTooNew",
    "Store",
    "StoreError",
    "make_event",
    "parse_event",
    "parse_event_json",
]
