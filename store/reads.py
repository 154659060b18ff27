"""Read models for the panes, the CLI and adapters: agents, tasks, escalations, workflows.

Every list can be narrowed to rows changed after a ``rev`` (``since_rev``), which
is how a TUI repaints only what moved: poll :meth:`StoreBase.rev`, then ask for
the rows above the last one seen.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from swarmdeck.store import rows
from swarmdeck.store.base import StoreCore
from swarmdeck.store.errors import NotFound
from swarmdeck.store.models import (
    Agent,
    Escalation,
    Task,
    Workflow,
    WorkflowNode,
    WorkflowSummary,
)


def _filters(equal: dict[str, Any], since_rev: int | None) -> tuple[str, list[Any]]:
    """``WHERE`` clause and parameters: columns equal to the given (non-None) values,
    and ``rev > since_rev``. Column names come from the caller's code, never input."""
    clauses = [f"{column} = ?" for column, value in equal.items() if value is not None]
    params: list[Any] = [value for value in equal.values() if value is not None]
    if since_rev is not None:
        clauses.append("rev > ?")
        params.append(since_rev)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def _limit(limit: int | None) -> str:
    return f"LIMIT {int(limit)}" if limit is not None else ""


class ReadsMixin(StoreCore):
    """The projections, as the panes read them."""

    async def agents(
        self,
        *,
        state: str | None = None,
        role: str | None = None,
        since_rev: int | None = None,
        limit: int | None = None,
    ) -> list[Agent]:
        """Agents, by name; ``since_rev`` returns only those changed after that rev."""
        where, params = _filters({"state": state, "role": role}, since_rev)
        found = await self._fetchall(
            f"SELECT {rows.AGENT_COLUMNS} FROM agents {where} ORDER BY name {_limit(limit)}",
            params,
        )
        return [rows.agent(r) for r in found]

    async def agent(self, name: str) -> Agent:
        """Raises: NotFound."""
        row = await self._fetchone(
            f"SELECT {rows.AGENT_COLUMNS} FROM agents WHERE name = ?", (name,)
        )
        if row is None:
            raise NotFound(f"no agent {name!r}")
        return rows.agent(row)

    async def tasks(
        self,
        *,
        workflow: str | None = None,
        state: str | None = None,
        since_rev: int | None = None,
        limit: int | None = None,
    ) -> list[Task]:
        """Tasks in creation order."""
        where, params = _filters({"workflow": workflow, "state": state}, since_rev)
        found = await self._fetchall(
            f"SELECT {rows.TASK_COLUMNS} FROM tasks {where} ORDER BY created_ts, id "
            f"{_limit(limit)}",
            params,
        )
        return [rows.task(r) for r in found]

    async def task(self, task_id: str) -> Task:
        """Raises: NotFound."""
        row = await self._fetchone(
            f"SELECT {rows.TASK_COLUMNS} FROM tasks WHERE id = ?", (task_id,)
        )
        if row is None:
            raise NotFound(f"no task {task_id!r}")
        return rows.task(row)

    async def escalations(
        self,
        *,
        state: str | Sequence[str] | None = None,
        since_rev: int | None = None,
        decided_since: float | None = None,
        limit: int | None = None,
    ) -> list[Escalation]:
        """Escalations, most urgent first: open ones, then severity, then oldest first.

        Args:
            state: one state or several (``EscalationState``; any other text, as a
                CLI filter may pass, matches nothing).
            since_rev: only those changed after this rev.
            decided_since: with decided ones, only those decided after this time
                (the inbox shows recent decisions until they age out).
        """
        clauses: list[str] = []
        params: list[Any] = []
        if state is not None:
            states = [state] if isinstance(state, str) else list(state)
            clauses.append(f"e.state IN ({','.join('?' * len(states))})")
            params.extend(states)
        if since_rev is not None:
            clauses.append("e.rev > ?")
            params.append(since_rev)
        if decided_since is not None:
            clauses.append("(e.state = 'open' OR e.decided_ts >= ?)")
            params.append(decided_since)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        found = await self._fetchall(
            f"SELECT {rows.ESCALATION_COLUMNS} {rows.ESCALATION_FROM} {where} "
            f"ORDER BY (e.state != 'open'), {rows.SEVERITY_ORDER_SQL}, "
            f"e.raised_ts, e.raised_seq {_limit(limit)}",
            params,
        )
        return [rows.escalation(r) for r in found]

    async def escalation(self, escalation_id: str) -> Escalation:
        """Raises: NotFound."""
        row = await self._fetchone(
            f"SELECT {rows.ESCALATION_COLUMNS} {rows.ESCALATION_FROM} WHERE e.id = ?",
            (escalation_id,),
        )
        if row is None:
            raise NotFound(f"no escalation {escalation_id!r}")
        return rows.escalation(row)

    async def workflows(self) -> list[WorkflowSummary]:
        """Every workflow with its task counts, most recently active first."""
        found = await self._fetchall(
            """
            SELECT w.name,
                   (SELECT COUNT(*) FROM tasks t WHERE t.workflow = w.name),
                   (SELECT COUNT(*) FROM tasks t WHERE t.workflow = w.name AND t.state = 'done'),
                   (SELECT COUNT(*) FROM tasks t WHERE t.workflow = w.name AND t.state = 'failed'),
                   (SELECT COUNT(*) FROM tasks t WHERE t.workflow = w.name AND t.state = 'running'),
                   (SELECT COUNT(*) FROM escalations e
                     WHERE e.state = 'open' AND (e.workflow = w.name OR e.task IN
                           (SELECT id FROM tasks t WHERE t.workflow = w.name))),
                   w.updated_ts, w.rev
            FROM workflows w ORDER BY w.updated_ts DESC, w.name
            """
        )
        return [WorkflowSummary(*r) for r in found]

    async def workflow(self, name: str) -> Workflow:
        """A workflow's graph: defined nodes plus its tasks, with each node's live state.

        A node's id is the id of the task that runs it. Tasks that belong to the
        workflow but are not declared as nodes still appear, so a workflow that was
        never defined is drawn from its tasks' dependencies alone.

        Raises:
            NotFound: no such workflow.
        """
        wf = await self._fetchone(
            "SELECT name, nodes, defined, updated_ts, rev FROM workflows WHERE name = ?", (name,)
        )
        if wf is None:
            raise NotFound(f"no workflow {name!r}")
        tasks = {t.id: t for t in await self.tasks(workflow=name)}
        blocked = {
            r[0]
            for r in await self._fetchall(
                "SELECT task FROM escalations WHERE state = 'open' "
                "AND task IN (SELECT id FROM tasks WHERE workflow = ?)",
                (name,),
            )
        }
        nodes: list[WorkflowNode] = []
        seen: set[str] = set()

        def node_state(task: Task | None) -> str:
            if task is None:
                return "pending"
            if task.id in blocked and task.state not in ("done",):
                return "blocked"
            return task.state

        for spec in json.loads(wf[1]):
            task = tasks.get(spec["id"])
            nodes.append(
                WorkflowNode(
                    id=spec["id"],
                    label=spec.get("label") or (task.title if task else spec["id"]),
                    role=spec.get("role"),
                    gate=bool(spec.get("gate", False)),
                    state=node_state(task),
                    assignee=task.assignee if task else None,
                    task=task.id if task else None,
                )
            )
            seen.add(spec["id"])
        for task in tasks.values():
            if task.id not in seen:
                nodes.append(
                    WorkflowNode(
                        id=task.id,
                        label=task.title or task.id,
                        role=None,
                        gate=False,
                        state=node_state(task),
                        assignee=task.assignee,
                        task=task.id,
                    )
                )
                seen.add(task.id)
        # Insertion order: SQLite's rowid, PostgreSQL's identity column.
        order = "rowid" if self.dialect == "sqlite" else "id"
        edge_rows = await self._fetchall(
            "SELECT src, dst FROM edges "
            f"WHERE workflow = ? AND kind IN ('flow', 'depends', 'parent') ORDER BY {order}",
            (name,),
        )
        edges: list[tuple[str, str]] = []
        for src, dst in edge_rows:
            if src in seen and dst in seen and (src, dst) not in edges:
                edges.append((src, dst))
        return Workflow(name, nodes, edges, bool(wf[2]), wf[3], wf[4])

    async def counts(self) -> dict[str, Any]:
        """The status line: agents by state, open escalations by severity, the oldest wait."""
        agents = dict(await self._fetchall("SELECT state, COUNT(*) FROM agents GROUP BY state"))
        severity = dict(
            await self._fetchall(
                "SELECT severity, COUNT(*) FROM escalations WHERE state = 'open' GROUP BY severity"
            )
        )
        oldest = await self._fetchone("SELECT MIN(raised_ts) FROM escalations WHERE state = 'open'")
        return {
            "agents": agents,
            "open_by_severity": severity,
            "oldest_open_ts": oldest[0] if oldest else None,
        }
