"""The simulated world as data, so a restarted demo continues the swarm it left.

Help says the swarm keeps running; a restart that withdrew every open item and started
over said otherwise. Instead the adapter saves :func:`snapshot` with every batch, in the
same transaction as the events it follows (the adapter state ``world``), and a restart
:func:`restore` s it: the same agents on the same tasks, the same questions still
waiting and still answerable. Only the run number (in event ids) and the random
sequence are new.

What is kept: the agents, the workflows still in flight with their tasks, the open
escalations, the queues and the timers. Finished workflows are not (a late decision on
one is acknowledged as for any unknown task). Big swarms (load tests) are not
snapshotted at all: past :data:`MAX_AGENTS` a restart starts a fresh run.
"""

from __future__ import annotations

import base64
import heapq
import json
import zlib
from collections import deque
from typing import Any

from swarmdeck.adapters.demo.catalogue import FEATURES
from swarmdeck.adapters.demo.simulation import Simulation
from swarmdeck.adapters.demo.world import SimEscalation, SimTask, SimWorkflow

#: The snapshot format; another version is not read (a fresh run starts instead).
VERSION = 1
#: Swarms up to this size are saved with every batch (~0.5 KB compressed per agent).
MAX_AGENTS = 500

_FEATURES = {f.name: f for f in FEATURES}
_TASK_FIELDS = (
    "id",
    "kind",
    "role",
    "title",
    "steps",
    "deps",
    "deps_left",
    "state",
    "step",
    "attempt",
    "trouble",
    "trouble_step",
    "forced_question",
    "escalation",
    "error",
)


class SnapshotMismatch(ValueError):
    """The snapshot is for another swarm (seed, size, format): start a fresh run."""


def dumps(sim: Simulation) -> str:
    """:func:`snapshot` as the text saved with each batch: compressed JSON (a dozen
    agents' world is ~30 KB of JSON, ~5 KB saved), "" for a swarm too big to keep."""
    if sim.agent_count > MAX_AGENTS:
        return ""
    raw = json.dumps(snapshot(sim), separators=(",", ":")).encode()
    return "z1:" + base64.b64encode(zlib.compress(raw, 6)).decode("ascii")


def loads(text: str) -> dict[str, Any]:
    """What :func:`dumps` saved.

    Raises:
        SnapshotMismatch: not a snapshot this version wrote.
    """
    if not text.startswith("z1:"):
        raise SnapshotMismatch("no saved world in a known format")
    try:
        data = json.loads(zlib.decompress(base64.b64decode(text[3:])))
    except (ValueError, zlib.error) as exc:
        raise SnapshotMismatch(f"the saved world is damaged ({exc})") from None
    if not isinstance(data, dict):
        raise SnapshotMismatch("the saved world is damaged")
    return data


def snapshot(sim: Simulation) -> dict[str, Any]:
    """The world as JSON-able data (see the module docstring for what is kept)."""
    sw = sim._swarm
    roster = sw.roster
    live = [wf for wf in sw.active.values() if not wf.done]
    known = {t.id for wf in live for t in wf.tasks}

    def task_id(t: SimTask | None) -> str | None:
        return t.id if t is not None and t.id in known else None

    return {
        "v": VERSION,
        "seed": sim.seed,
        "agents": len(roster.agents),
        "target": sw.target_workflows,
        "tick": sim._tick,
        "next_workflow": sw.next_workflow,
        "next_escalation": sw.next_escalation,
        "roster": [
            {
                "name": a.name,
                "role": a.role,
                "model": a.model,
                "host": a.host,
                "task": task_id(a.task),
                "backlog": [t.id for t in a.backlog if t.id in known],
                "tokens": a.tokens,
            }
            for a in roster.agents.values()
        ],
        "free": {role: list(pool) for role, pool in roster._free.items()},
        "rr": roster._rr,
        "workflows": [
            {
                "name": wf.name,
                "template": wf.template,
                "features": [f.name for f in wf.features],
                "tasks": [
                    {
                        **{f: getattr(t, f) for f in _TASK_FIELDS},
                        "feature": t.feature.name,
                        "agent": t.agent.name if t.agent is not None else None,
                        "dependents": [d.id for d in t.dependents],
                    }
                    for t in wf.tasks
                ],
            }
            for wf in live
        ],
        "open": [
            {
                "id": e.id,
                "kind": e.kind,
                "title": e.title,
                "task": e.task.id,
                "options": list(e.options) if e.options else None,
                "severity": e.severity,
                "body": e.body,
            }
            for e in sw.open.values()
            if e.task.id in known
        ],
        "ready": {role: [t.id for t in q if t.id in known] for role, q in sw._ready.items()},
        "runq": [t.id for t in sw._runq if t.id in known],
        "parked": [[name, since] for name, (_wf, since) in sw.parked.items()],
        "timers": [list(t) for t in sorted(sim._timers)],
        "timer_seq": sim._timer_seq,
    }


def restore(sim: Simulation, data: dict[str, Any]) -> None:
    """Put a new (not yet started) simulation into the world ``data`` describes.

    Raises:
        SnapshotMismatch: ``data`` is for another seed, size or format.
    """
    sw = sim._swarm
    roster = sw.roster
    if (
        data.get("v") != VERSION
        or data.get("seed") != sim.seed
        or data.get("agents") != len(roster.agents)
        or data.get("target") != sw.target_workflows
    ):
        raise SnapshotMismatch("the saved world is for another swarm")
    agents = {a["name"]: a for a in data["roster"]}
    if set(agents) != set(roster.agents):
        raise SnapshotMismatch("the saved world has other agents")
    tasks: dict[str, SimTask] = {}
    for w in data["workflows"]:
        wf = SimWorkflow(w["name"], w["template"], [_FEATURES[n] for n in w["features"]])
        for raw in w["tasks"]:
            t = SimTask(
                **{f: raw[f] for f in _TASK_FIELDS},
                workflow=wf,
                feature=_FEATURES[raw["feature"]],
            )
            wf.tasks.append(t)
            tasks[t.id] = t
        for raw in w["tasks"]:
            tasks[raw["id"]].dependents = [tasks[d] for d in raw["dependents"] if d in tasks]
        sw.active[wf.name] = wf
    sw.tasks.update(tasks)
    for w in data["workflows"]:
        for raw in w["tasks"]:
            if raw["agent"] is not None:
                tasks[raw["id"]].agent = roster.agents[raw["agent"]]
    for agent in roster.agents.values():
        saved = agents[agent.name]
        agent.model, agent.host, agent.tokens = saved["model"], saved["host"], saved["tokens"]
        agent.task = tasks.get(saved["task"] or "")
        agent.backlog = deque(tasks[i] for i in saved["backlog"] if i in tasks)
    for role, pool in roster._free.items():
        pool.clear()
        for name in data["free"].get(role, []):
            pool[name] = roster.agents[name]
    roster._rr = data["rr"]
    for e in data["open"]:
        t = tasks[e["task"]]
        options = tuple(e["options"]) if e["options"] else None
        sw.open[e["id"]] = SimEscalation(
            e["id"], e["kind"], e["title"], t, options, e["severity"], e["body"]
        )
    for role, ids in data["ready"].items():
        sw._ready[role] = deque(tasks[i] for i in ids if i in tasks)
    sw._runq = deque()
    for t in tasks.values():
        t.in_runq = False
    for i in data["runq"]:
        sw.enqueue(tasks[i])
    sw.parked.clear()
    for name, since in data["parked"]:
        if name in sw.active:
            sw.parked[name] = (sw.active[name], since)
    sw.next_workflow = max(sw.next_workflow, data["next_workflow"])
    sw.next_escalation = max(sw.next_escalation, data["next_escalation"])
    sim._tick = sw.tick = data["tick"]
    sim._timers = [(int(a), int(b), str(c), str(d)) for a, b, c, d in data["timers"]]
    heapq.heapify(sim._timers)
    sim._timer_seq = data["timer_seq"]
    sim._started = True
