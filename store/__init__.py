"""swarmdeck's store: the event model and the hub every other part reads and writes.

The hub is a SQLite file (the embedded default) or a PostgreSQL database (for a team):
:func:`open_store` takes a path or a ``postgresql://`` URL.

Nothing here imports Textual: the store is shared by the TUI, the headless
collector, the CLI and hook commands alike.
"""

from swarmdeck.store.db import SqliteStore, Store
from swarmdeck.store.errors import (
    AlreadyDecided,
    InvalidDecision,
    LeaseLost,
    NotFound,
    SchemaTooNew,
    StoreError,
)
from swarmdeck.store.events import Event, EventError, make_event, parse_event, parse_event_json
from swarmdeck.store.opening import display_location, is_postgres_url, open_store

__all__ = [
    "AlreadyDecided",
    "Event",
    "EventError",
    "InvalidDecision",
    "LeaseLost",
    "NotFound",
    "SchemaTooNew",
    "SqliteStore",
    "Store",
    "StoreError",
    "display_location",
    "is_postgres_url",
    "make_event",
    "open_store",
    "parse_event",
    "parse_event_json",
]
