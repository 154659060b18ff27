"""What the simulated agents say: activities, results, logs and the escalations they raise.

Pure functions of the simulation's random generator and the task at hand; they change
nothing in the world. Each draws from the generator in a fixed order, which is part of
what makes a seed reproduce its swarm exactly: keep the order when editing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from swarmdeck.adapters.demo.catalogue import (
    APPROVALS,
    FAILURES,
    GUARDRAILS,
    QUESTIONS,
)
from swarmdeck.adapters.demo.world import SimAgent, SimTask, SimWorkflow

_KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_FIRST = ("ana", "ben", "chloe", "dmitri", "eva", "farid", "grace", "hiro", "ines", "jonas")
_LAST = ("moreau", "okafor", "silva", "tanaka", "weber", "kowalski", "haddad", "nguyen")

#: Chance that a question or approval without a deadline gets one (never a low one).
_DEADLINE_CHANCE = 0.25
_DEADLINES = ("15m", "30m", "1h")


@dataclass(frozen=True, slots=True)
class Trouble:
    """An escalation as the agent words it, before the simulation raises it."""

    kind: str
    title: str
    body: str
    severity: str
    options: tuple[str, ...] | None = None
    deadline: str | None = None
    retryable: bool = True
    """For a failure: whether retrying can help."""
    waiting: str = "waiting for approval"
    """The agent's activity while it waits (a failure and a question say their own)."""
    error: str | None = None
    """For a failure: the error the task failed with."""
    tokens: int | None = None
    """For a budget: the agent's token count, now past its budget."""


def _fits(about: tuple[str, ...], t: SimTask) -> bool:
    """Whether an escalation about these features belongs to ``t``: a plan speaks for its
    whole workflow, any other task for its own feature."""
    if not about:
        return True
    keys = {f.key for f in t.workflow.features} if t.kind == "plan" else {t.feature.key}
    return bool(keys.intersection(about))


def leak(rng: random.Random, kind: str) -> str:
    """A made-up value the guardrails recognise: what a leaking agent would have written."""
    if kind == "aws-key":
        return "AKIA" + "".join(rng.choice(_KEY_CHARS) for _ in range(16))
    if kind == "emails":
        people = [(rng.choice(_FIRST), rng.choice(_LAST)) for _ in range(3)]
        return "\n".join(f"    {a}.{b}@example-customer.com" for a, b in people)
    body = "".join(rng.choice(_B64) for _ in range(64))
    return (
        "    -----BEGIN OPENSSH PRIVATE KEY-----\n"
        f"    {body}\n"
        "    -----END OPENSSH PRIVATE KEY-----"
    )


def describe_trouble(rng: random.Random, kind: str, t: SimTask, agent: SimAgent) -> Trouble:
    """Word the trouble ``t`` ran into: ``kind`` as rolled, or a failure when the task's
    kind has no such escalation in the catalogue (and the forced first question).
    Only escalations that fit the task's features are chosen (see ``about``)."""
    fill = {
        "agent": agent.name,
        "f": t.feature.name,
        "file": t.feature.file,
        "test": t.feature.test,
        "key": t.feature.key,
        "wf": t.workflow.name,
        "branch": f"{t.workflow.name}/{t.feature.key}",
        "leak": "",
    }
    questions = [q for q in QUESTIONS.get(t.kind, ()) if _fits(q.about, t)]
    approvals = [a for a in APPROVALS.get(t.kind, ()) if _fits(a.about, t)]
    options: tuple[str, ...] | None = None
    deadline: str | None = None
    retryable = True
    waiting = "waiting for approval"
    error: str | None = None
    tokens: int | None = None
    if t.forced_question:
        kind = "question"
        title, body, options, severity, _about = QUESTIONS["plan"][0]
    elif kind == "question" and questions:
        title, body, options, severity, _about = rng.choice(questions)
    elif kind == "approval" and approvals:
        title, body, severity, deadline, _about = rng.choice(approvals)
    elif kind == "guardrail":
        title, body, severity, leak_kind = rng.choice(GUARDRAILS)
        fill["leak"] = leak(rng, leak_kind)
        waiting = "output held by a guardrail"
    elif kind == "budget":
        budget = max(100_000, (agent.tokens // 100_000) * 100_000)
        tokens = max(agent.tokens, budget + rng.randint(1_000, 40_000))
        title = f"{agent.name} crossed its token budget"
        body = (
            f"{tokens:,} tokens used of a {budget:,} budget while working on {t.id}. "
            "Approve to raise the budget by 50%; reject to stop the task."
        )
        severity = "high" if tokens > 1_000_000 else "normal"
        waiting = "paused: token budget exceeded"
    else:
        kind = "failure"
        failures = [f for f in FAILURES.get(t.kind) or FAILURES["code"] if _fits(f.about, t)]
        error, retryable, severity, _about = rng.choice(failures)
        error = error.format(**fill)
        title = f"{t.id} failed: {error}"
        body = (
            f"{agent.name} gave up on {t.title!r} "
            f"({'retryable' if retryable else 'not retryable'}). "
            "Retry it, reroute it to another agent, or accept and move on."
        )
    if (
        kind != "failure"
        and severity != "low"
        and deadline is None
        and rng.random() < _DEADLINE_CHANCE
    ):
        deadline = rng.choice(_DEADLINES)
    return Trouble(
        kind=kind,
        title=title.format(**fill),
        body=body.format(**fill),
        severity=severity,
        options=options,
        deadline=deadline,
        retryable=retryable,
        waiting=waiting,
        error=error,
        tokens=tokens,
    )


def gate_text(rng: random.Random, wf: SimWorkflow, *, again: bool = False) -> tuple[str, str]:
    """Title and body of the human gate's approval before ``wf`` ships."""
    files = rng.randint(6, 40)
    body = (
        f"{'Asking again. ' if again else ''}Review approved, "
        f"{rng.randint(300, 1200)} tests passed. Diff: +{rng.randint(80, 2400):,} "
        f"-{rng.randint(10, 600):,} across {files} files "
        f"({', '.join(f.name for f in wf.features)})."
    )
    return f"Ship {wf.name} to production?", body


def activity(rng: random.Random, t: SimTask) -> str:
    """What the agent running ``t`` is doing right now (its status line)."""
    f = t.feature
    k = t.kind
    if k == "plan":
        return rng.choice(
            (
                f"reading issue #{rng.randint(200, 999)}: {f.name}",
                f"reading {f.file}",
                f"splitting {t.workflow.name} into {len(t.dependents)} tasks",
                "checking open PRs for conflicts",
                "estimating effort per task",
                f"writing acceptance criteria for {f.name}",
            )
        )
    if k == "code":
        return rng.choice(
            (
                f"editing {f.file}",
                f"reading {f.file}",
                f"writing {f.test}",
                f"running pytest -k {f.key} ({rng.randint(4, 60)} passed)",
                "running ruff check src/",
                f"running mypy {f.file.rsplit('/', 1)[0]}",
                f"git diff --stat ({rng.randint(1, 9)} files, +{rng.randint(10, 400)} "
                f"-{rng.randint(0, 120)})",
                f'grep -rn "{f.key}" src/',
            )
        )
    if k == "review":
        code = rng.choice(t.workflow.tasks[1:-4] or t.workflow.tasks)
        return rng.choice(
            (
                f"reviewing the diff of {code.id} ({rng.randint(40, 900)} lines)",
                f"commenting on {code.feature.file}:{rng.randint(10, 400)}",
                "checking test coverage of the change",
                "requesting changes: missing test for the error path",
                f"re-reading {code.feature.file} after the fixup commit",
            )
        )
    if k == "test":
        return rng.choice(
            (
                f"running pytest -q ({rng.randint(300, 1200)} passed, {rng.randint(0, 9)} skipped)",
                f"running playwright test e2e/{f.key}.spec.ts",
                f"coverage {rng.uniform(78, 95):.1f}%",
                "running pytest -x tests/integration",
                f"re-running {f.test} to rule out flakiness",
            )
        )
    version = f"1.{t.workflow.name.rsplit('-', 1)[-1]}.{rng.randint(0, 9)}"
    return rng.choice(
        (
            f"building image ghcr.io/acme/api:{version}",
            "helm upgrade api --namespace staging",
            f"smoke tests on staging ({rng.randint(10, 14)}/14 passed)",
            f"canary at 10% (error rate {rng.uniform(0.0, 0.1):.2f}%)",
            "promoting canary to 100%",
        )
    )


def result(rng: random.Random, t: SimTask) -> str:
    """What finishing ``t`` produced (the ``task.completed`` result)."""
    k = t.kind
    if k == "plan":
        return f"plan ready: {len(t.dependents)} tasks"
    if k == "code":
        return (
            f"opened PR #{rng.randint(1000, 9999)} (+{rng.randint(20, 900)} "
            f"-{rng.randint(0, 300)}, {rng.randint(1, 12)} files)"
        )
    if k == "review":
        return rng.choice(("approved", "approved with 2 nits", "LGTM after one fixup"))
    if k == "test":
        return f"{rng.randint(300, 1200)} passed, 0 failed"
    return f"{t.workflow.name} live in production"


def log_text(rng: random.Random, t: SimTask) -> str:
    """A line of the agent's chatter while it works on ``t``."""
    f = t.feature
    return rng.choice(
        (
            f"tool call: bash `pytest -k {f.key}` exited 0",
            f"tool call: read_file {f.file} ({rng.randint(40, 900)} lines)",
            f"context at {rng.randint(20, 95)}% of the window",
            f"cache hit for {f.file}",
            f"tool call: gh pr view {rng.randint(1000, 9999)}",
        )
    )
