"""Store rows in one line, for the tests of the plain parts (models, presentation)."""

from __future__ import annotations

from swarmdeck.store.events import Severity
from swarmdeck.store.models import Agent, Escalation


def agent_row(name: str, state: str = "idle", role: str = "coder", rev: int = 1) -> Agent:
    return Agent(name, role, None, None, state, "", None, None, 0.0, 0.0, 0, 0, 0, 0.0, "demo", rev)


def escalation_row(
    key: str,
    severity: Severity = "normal",
    *,
    raised: float = 0.0,
    title: str = "t",
    rev: int = 1,
    decided: float | None = None,
) -> Escalation:
    return Escalation(
        id=key, kind="approval", title=title, body="", severity=severity, options=None,
        deadline=None, reroute_targets=None, agent="a", task=None, workflow=None, source="demo",
        origin="demo", state="open" if decided is None else "decided", raised_ts=raised,
        raised_seq=rev, decided_ts=decided, decided_by=None if decided is None else "x@y",
        action=None if decided is None else "approve", reason=None, target=None, delivery=None,
        delivery_error=None, rev=rev,
    )  # fmt: skip
