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
    """A fenced write came from a holder whose lease (``name`` at ``epoch``) is gone."""

    def __init__(self, name: str, epoch: int) -> None:
        self.name = name
        self.epoch = epoch
        super().__init__(f"the lease on {name!r} at epoch {epoch} is no longer held")
