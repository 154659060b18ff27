"""Errors the store raises; each ``str()`` is one line fit to show a user as is."""

from __future__ import annotations

from datetime import UTC, datetime


class StoreError(Exception):
    """Base of every store error."""


class SchemaTooNew(StoreError):
    """The database was written by a newer swarmdeck; reading it could misinterpret it."""


class NotFound(StoreError):
    """The named escalation, task or agent does not exist."""


class InvalidDecision(StoreError):
    """The decision is malformed (e.g. a reject without a reason)."""


class AlreadyDecided(StoreError):
    """Compare-and-set lost: someone else decided this escalation first."""

    def __init__(self, escalation: str, state: str, by: str | None, at: float | None) -> None:
        self.escalation = escalation
        self.state = state
        self.by = by
        self.at = at
        if state == "decided" and by:
            when = datetime.fromtimestamp(at or 0, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            message = f"escalation {escalation} was already decided by {by} at {when}"
        else:
            message = f"escalation {escalation} is {state}, not open"
        super().__init__(message)


class LeaseLost(StoreError):
    """A fenced write was refused: its lease changed holder (or epoch) meanwhile."""

    def __init__(self, name: str, epoch: int, holder: str | None, current: int | None) -> None:
        self.name = name
        self.epoch = epoch
        self.holder = holder
        self.current = current
        if current is None:
            message = f"lease {name!r} does not exist (fenced with epoch {epoch})"
        else:
            message = (
                f"lease {name!r} is held by {holder} with epoch {current}, "
                f"not epoch {epoch}: this writer lost it"
            )
        super().__init__(message)


class StoreUnavailable(StoreError):
    """The store cannot take a write now, whatever the write holds (locked, read-only,
    disk full, a server gone for longer than the retries): retrying the same write later
    may pass, and splitting it cannot help (see :mod:`swarmdeck.store.isolate`)."""


class StoreBusy(StoreUnavailable):
    """Another process held the database's write lock for longer than the store waits."""


class StoreUnwritable(StoreUnavailable):
    """The database cannot be written: a read-only file or directory, a full disk."""


class ForeignDatabase(StoreError):
    """The database belongs to another program: swarmdeck never writes into it."""
