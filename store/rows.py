"""Column lists and row decoders: one place that knows how a table row becomes a model.

The read paths (panes, change feed, outbox, named queries) select these exact
column lists, so a decoder and its ``SELECT`` cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from swarmdeck.store.models import Agent, Escalation, StoredEvent, Task, loads_list

AGENT_COLUMNS = (
    "name, role, model, host, state, activity, task, workflow, first_seen, last_seen, events, "
    "tokens_in, tokens_out, cost_usd, origin, rev, vendor"
)
TASK_COLUMNS = (
    "id, title, workflow, parent, depends_on, assignee, state, note, pct, result, error, "
    "retryable, failures, tokens_in, tokens_out, cost_usd, created_ts, started_ts, ended_ts, "
    "updated_ts, origin, rev"
)
EVENT_COLUMNS = "seq, source, eid, ts, kind, agent, task, workflow, data"

#: Escalation columns with the state of its latest delivery (alias ``e``, outbox ``o``).
ESCALATION_COLUMNS = """
    e.id, e.kind, e.title, e.body, e.severity, e.options, e.deadline, e.reroute_targets,
    e.agent, e.task, e.workflow, e.source, e.origin, e.state, e.raised_ts, e.raised_seq,
    e.decided_ts, e.decided_by, e.action, e.reason, e.target,
    o.state AS delivery, o.last_error AS delivery_error, e.rev
"""
ESCALATION_FROM = """
    FROM escalations e
    LEFT JOIN outbox o ON o.id = (
        SELECT id FROM outbox WHERE escalation = e.id ORDER BY id DESC LIMIT 1)
"""

#: Most urgent first (unknown severities last).
SEVERITY_ORDER_SQL = (
    "CASE e.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END"
)


def agent(r: Sequence[Any]) -> Agent:
    return Agent(*r)


def task(r: Sequence[Any]) -> Task:
    values = list(r)
    values[4] = json.loads(values[4])
    values[11] = None if values[11] is None else bool(values[11])
    return Task(*values)


def escalation(r: Sequence[Any]) -> Escalation:
    return Escalation(
        id=r[0],
        kind=r[1],
        title=r[2],
        body=r[3],
        severity=r[4],
        options=loads_list(r[5]),
        deadline=r[6],
        reroute_targets=loads_list(r[7]),
        agent=r[8],
        task=r[9],
        workflow=r[10],
        source=r[11],
        origin=r[12],
        state=r[13],
        raised_ts=r[14],
        raised_seq=r[15],
        decided_ts=r[16],
        decided_by=r[17],
        action=r[18],
        reason=r[19],
        target=r[20],
        delivery=r[21],
        delivery_error=r[22],
        rev=r[23],
    )


def stored_event(r: Sequence[Any]) -> StoredEvent:
    """Decode an ``events`` row selected as :data:`EVENT_COLUMNS` (the change feed's shape)."""
    return StoredEvent(
        seq=r[0],
        source=r[1],
        id=r[2],
        ts=r[3],
        kind=r[4],
        agent=r[5],
        task=r[6],
        workflow=r[7],
        data=json.loads(r[8]) if r[8] else {},
    )
