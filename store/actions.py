"""Acting on a task rather than on an escalation: retry a failed node, reroute a task.

Decisions are always about escalations (that is what the outbox delivers and the
audit records). When a manager or a policy acts on a task that has no open
escalation, a synthetic ``failure`` escalation is raised on the task's behalf,
through the task's own adapter, and decided at once, so the same delivery path,
inbox history and audit trail apply.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from swarmdeck.store.db import Store
from swarmdeck.store.events import Action, make_event
from swarmdeck.store.models import Decision
from swarmdeck.store.queries.tasks import open_escalation_of_task

#: ``source`` of events swarmdeck itself writes.
SYSTEM_SOURCE = "swarmdeck"


async def act_on_task(
    store: Store,
    task_id: str,
    action: Action,
    *,
    actor: str,
    reason: str | None = None,
    target: str | None = None,
    host: str | None = None,
) -> Decision:
    """Decide ``action`` for a task: on its open escalation if it has one, else on a new one.

    Raises:
        NotFound: no such task.
        InvalidDecision, AlreadyDecided: as :meth:`Store.decide`.
    """
    task = await store.task(task_id)
    escalation_id = await open_escalation_of_task(store, task_id)
    if escalation_id is None:
        now = datetime.fromtimestamp(store.clock(), UTC)
        # Random suffix: two actions in the same millisecond (or under a frozen test
        # clock) must not collide.
        escalation_id = f"task-{task_id}-{uuid.uuid4().hex[:12]}"
        event = make_event(
            "escalation.raised",
            id=escalation_id,
            ts=now,
            source=SYSTEM_SOURCE,
            agent=task.assignee,
            task=task.id,
            workflow=task.workflow,
            data={
                "id": escalation_id,
                "kind": "failure",
                "title": f"{action} {task.title or task.id}",
                "body": task.error or "",
                "severity": "normal",
            },
        )
        await store.append([event], origin=task.origin)
    return await store.decide(
        escalation_id, action, actor=actor, reason=reason, target=target, host=host
    )
