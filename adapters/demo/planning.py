"""Planning a workflow: its features, its tasks in dependency order, and the graph it shows.

Every workflow has the same shape (plan -> one code task per feature -> review and test
-> a human gate -> deploy); templates vary the name and the number of features, and a
hotfix skips the plan.
"""

from __future__ import annotations

import random
from typing import Any

from swarmdeck.adapters.demo.catalogue import (
    FEATURES,
    FIRST_TEMPLATE,
    NODE_ROLE,
    STEPS,
    TEMPLATES,
    Feature,
    Template,
)
from swarmdeck.adapters.demo.world import SimTask, SimWorkflow

#: Graph labels of the nodes that are not code tasks (which show their feature).
_LABELS = {"plan": "plan", "review": "review", "test": "test", "gate": "human gate"}


def plan_workflow(
    rng: random.Random,
    number: int,
    role_map: dict[str, str],
    *,
    first: bool = False,
    template: Template | None = None,
) -> SimWorkflow:
    """A new workflow numbered ``number``, its tasks pending (the plan, if any, first).

    ``role_map`` says which role runs each kind of node (a role nobody plays falls back
    to another). The first workflow of a run is a release that includes the catalogue's
    first feature, and its plan opens with a question, so a new user sees an escalation
    within seconds.
    """
    if first:
        template = FIRST_TEMPLATE
    elif template is None:
        template = rng.choices(TEMPLATES, weights=[t.weight for t in TEMPLATES])[0]
    name = f"{template.prefix}-{number}"
    features = rng.sample(FEATURES, rng.randint(template.min_code, template.max_code))
    if first and FEATURES[0] not in features:
        features[0] = FEATURES[0]
    wf = SimWorkflow(name, template.prefix, features)

    def task(kind: str, suffix: str, title: str, feature: Feature, deps: list[SimTask]) -> SimTask:
        lo_steps, hi_steps = STEPS.get(kind, (1, 1))
        t = SimTask(
            id=f"{name}.{suffix}",
            kind=kind,
            role=role_map[NODE_ROLE.get(kind, "planner")],
            title=title,
            workflow=wf,
            feature=feature,
            steps=rng.randint(lo_steps, hi_steps),
            deps=[d.id for d in deps],
            deps_left=len(deps),
        )
        for d in deps:
            d.dependents.append(t)
        wf.tasks.append(t)
        return t

    names = ", ".join(f.name for f in features)
    first_step = (
        [task("plan", "plan", f"Plan {name}: {names}", features[0], [])] if template.planned else []
    )
    verb = "Fix" if template.prefix == "hotfix" else "Implement"
    codes = [
        task("code", f"code-{i}", f"{verb} {f.name}", f, first_step)
        for i, f in enumerate(features, 1)
    ]
    review = task("review", "review", f"Review the {name} changes", features[0], codes)
    test = task("test", "test", f"Run the test suite for {name}", features[-1], codes)
    gate = task("gate", "gate", f"Approve {name} for production", features[0], [review, test])
    task("deploy", "deploy", f"Deploy {name} to production", features[0], [gate])
    if first:
        first_step[0].forced_question = True
    return wf


def workflow_graph(wf: SimWorkflow) -> dict[str, Any]:
    """The ``workflow.defined`` payload: one node per task, one edge per dependency."""
    nodes: list[dict[str, Any]] = []
    edges: list[list[str]] = []
    for t in wf.tasks:
        # A code node's box is titled code-1 already: its label is the feature, whole.
        label = _LABELS.get(t.kind) or (t.feature.name if t.kind == "code" else t.kind)
        node: dict[str, Any] = {"id": t.id, "label": label}
        if t.kind == "gate":
            node["gate"] = True
        else:
            node["role"] = t.role
        nodes.append(node)
        edges.extend([dep, t.id] for dep in t.deps)
    return {"name": wf.name, "nodes": nodes, "edges": edges}
