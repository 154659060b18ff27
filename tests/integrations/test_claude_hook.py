"""The real ``swarmdeck hook claude-code`` command, fed recorded Claude Code payloads."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from swarmdeck.store.db import SqliteStore
from tests.helpers.hooks import SWARMDECK, payload
from tests.helpers.waiting import open_escalations

pytestmark = pytest.mark.slow


class Hook:
    """One running hook process."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def result(self, timeout: float = 20.0) -> tuple[int, Any, str]:
        out, err = await asyncio.wait_for(self.proc.communicate(), timeout)
        text = out.decode().strip()
        body = json.loads(text) if text else None
        assert self.proc.returncode is not None
        return self.proc.returncode, body, err.decode()


async def start_hook(
    db: Path, data: dict[str, Any] | bytes, env: dict[str, str], *extra: str
) -> Hook:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    proc = await asyncio.create_subprocess_exec(
        str(SWARMDECK), "--db", str(db), "hook", "claude-code", *extra,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )  # fmt: skip
    assert proc.stdin is not None
    proc.stdin.write(raw)
    await proc.stdin.drain()
    proc.stdin.close()
    return Hook(proc)


async def test_permission_request_approved(
    tmp_path: Path, store: SqliteStore, env: dict[str, str]
) -> None:
    hook = await start_hook(store.path, payload("permission_request_bash"), env)
    [esc] = await open_escalations(store)
    assert esc.title == "Bash: rm -rf build/ && npm run build"
    assert esc.kind == "approval"
    assert esc.severity == "high"  # rm -rf
    assert esc.agent == "claude:shop-api"
    assert esc.origin == "claude-code-hook"
    assert "permission mode: default" in esc.body
    assert "session: 8f0c2d7e" in esc.body
    agent = await store.agent("claude:shop-api")
    assert (agent.role, agent.state) == ("claude-code", "blocked")

    await store.decide(esc.id, "approve", actor="ana@laptop")
    code, body, _ = await hook.result()
    assert code == 0
    assert body == {
        "hookSpecificOutput": {
            "hookEventName": "PermissionRequest",
            "decision": {"behavior": "allow"},
        }
    }
    after = await store.escalation(esc.id)
    assert after.delivery == "delivered"  # the hook acknowledged its own outbox row
    agent = await store.agent("claude:shop-api")
    assert agent.state == "working"
    assert "approved by ana@laptop" in agent.activity


async def test_permission_request_rejected_with_reason(
    store: SqliteStore, env: dict[str, str]
) -> None:
    hook = await start_hook(store.path, payload("permission_request_bash"), env)
    [esc] = await open_escalations(store)
    await store.decide(esc.id, "reject", actor="ana@laptop", reason="keep build/ for the diff")
    code, body, _ = await hook.result()
    assert code == 0
    decision = body["hookSpecificOutput"]["decision"]
    assert decision["behavior"] == "deny"
    assert decision["message"] == "Denied by ana@laptop: keep build/ for the diff"


async def test_pretooluse_reroute_names_who_takes_over(
    store: SqliteStore, env: dict[str, str]
) -> None:
    hook = await start_hook(store.path, payload("pretooluse_write"), env)
    [esc] = await open_escalations(store)
    assert esc.severity == "high"  # a write outside the project
    assert esc.title == "Write: /etc/hosts"
    await store.decide(
        esc.id, "reroute", actor="ana@laptop", reason="infra owns /etc", target="ops-bot"
    )
    code, body, _ = await hook.result()
    assert code == 0
    out = body["hookSpecificOutput"]
    assert out["hookEventName"] == "PreToolUse"
    assert out["permissionDecision"] == "deny"
    assert "ops-bot takes over" in out["permissionDecisionReason"]
    assert "infra owns /etc" in out["permissionDecisionReason"]


async def test_subagent_pretooluse_is_its_own_agent(
    store: SqliteStore, env: dict[str, str]
) -> None:
    hook = await start_hook(store.path, payload("pretooluse_subagent_bash"), env)
    [esc] = await open_escalations(store)
    assert esc.agent == "claude:shop-api/sub:test-runner#a3f9c2"
    assert esc.severity == "low"
    await store.decide(esc.id, "approve", actor="ana@laptop")
    code, body, _ = await hook.result()
    assert (code, body["hookSpecificOutput"]["permissionDecision"]) == (0, "allow")
    sub = await store.agent("claude:shop-api/sub:test-runner#a3f9c2")
    assert sub.role == "test-runner"

    done = await start_hook(store.path, payload("subagent_stop"), env)
    code, body, _ = await done.result()
    assert (code, body) == (0, None)
    sub = await store.agent("claude:shop-api/sub:test-runner#a3f9c2")
    assert sub.state == "done"
    assert "42 passed" in sub.activity


async def test_status_only_events(store: SqliteStore, env: dict[str, str]) -> None:
    for name, state, text in (
        ("pretooluse_read", "working", "Read: /home/dev/shop-api/src/orders.py"),
        ("notification_permission", "blocked", "waiting for permission"),
        ("notification_idle", "idle", "waiting for input"),
        ("stop", "idle", "all 42 tests pass"),
    ):
        hook = await start_hook(store.path, payload(name), env)
        code, body, err = await hook.result()
        assert (code, body, err) == (0, None, ""), name
        agent = await store.agent("claude:shop-api")
        assert agent.state == state, name
        assert text in agent.activity, name
    assert await store.escalations() == []


async def test_timeout_answers_default_and_withdraws(
    store: SqliteStore, env: dict[str, str]
) -> None:
    env = {**env, "SWARMDECK_HOOKS__TIMEOUT": "1"}
    hook = await start_hook(store.path, payload("permission_request_bash"), env)
    code, body, err = await hook.result()
    assert code == 0
    decision = body["hookSpecificOutput"]["decision"]
    assert decision["behavior"] == "deny"
    assert "timed out after 1s; answered deny" in decision["message"]
    assert "timed out" in err
    [esc] = await store.escalations()
    assert esc.state == "withdrawn"
    assert esc.reason == "timed out after 1s; answered deny"


async def test_timeout_with_default_ask_leaves_claude_dialog(
    store: SqliteStore, env: dict[str, str]
) -> None:
    env = {**env, "SWARMDECK_HOOKS__TIMEOUT": "0.5", "SWARMDECK_HOOKS__DEFAULT": "ask"}
    hook = await start_hook(store.path, payload("pretooluse_write"), env)
    code, body, _ = await hook.result()
    assert code == 0
    out = body["hookSpecificOutput"]
    assert out["permissionDecision"] == "ask"
    assert "timed out after 0.5s; answered ask" in out["permissionDecisionReason"]


@pytest.mark.parametrize("kind", ["not-a-database", "unreachable-dir"])
async def test_store_down_answers_deny_never_allow(
    tmp_path: Path, env: dict[str, str], kind: str
) -> None:
    if kind == "not-a-database":
        db = tmp_path / "garbage.db"
        db.write_bytes(b"this is not sqlite" * 100)
    else:
        blocker = tmp_path / "file"
        blocker.write_text("x")
        db = blocker / "sub" / "swarm.db"  # a parent that is a file: cannot be created
    # Even with hooks.default = allow: that is for a wait nobody answered, not a failure.
    hook = await start_hook(
        db, payload("permission_request_bash"), {**env, "SWARMDECK_HOOKS__DEFAULT": "allow"}
    )
    code, body, err = await hook.result()
    assert code == 0
    decision = body["hookSpecificOutput"]["decision"]
    assert decision["behavior"] == "deny"
    assert "store unavailable" in decision["message"]
    assert "answered deny" in err


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"hook_event_name": "PreToolUse", "cwd": "/x"}', "session_id"),
        (b"", "empty hook payload"),
    ],
)
async def test_malformed_payload_denies_with_exit_2(
    store: SqliteStore, env: dict[str, str], raw: bytes, message: str
) -> None:
    hook = await start_hook(store.path, raw, env)
    code, body, err = await hook.result()
    assert code == 2  # blocks the call: exit 1 would let it through
    assert body is None
    assert message in err
    assert "answered deny" in err
    assert "Traceback" not in err
    [letter] = await store.dead_letters()
    assert letter.origin == "claude-code-hook"
    assert message in letter.error


DEEP_PERMISSION = b'{"hook_event_name": "PermissionRequest", "x": ' + b"[" * 100 + b"]" * 100 + b"}"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json", 2),  # which event it was cannot be told: refused
        (b'{"hook_event_name": "PreToolUse", "cwd": "/x"}', 2),
        (DEEP_PERMISSION, 2),  # nested beyond the bounded reader's depth
        (b'{"hook_event_name": "Stop", "cwd": 5}', 0),  # refusing to stop would keep it going
    ],
)
async def test_an_unreadable_payload_is_never_allowed_whatever_the_default(
    store: SqliteStore, env: dict[str, str], raw: bytes, code: int
) -> None:
    """hooks.default is for a wait nobody answered, not for input nobody could read."""
    hook = await start_hook(store.path, raw, {**env, "SWARMDECK_HOOKS__DEFAULT": "allow"})
    got, body, err = await hook.result()
    assert (got, body) == (code, None), err
    assert "answered allow" not in err and "Traceback" not in err


async def test_two_sessions_in_one_directory_get_distinct_names(
    store: SqliteStore, env: dict[str, str]
) -> None:
    first = payload("notification_permission")
    second = {**first, "session_id": "77aa11bb-0000-4000-8000-000000000000"}
    for data in (first, second):
        code, _, _ = await (await start_hook(store.path, data, env)).result()
        assert code == 0
    names = sorted(a.name for a in await store.agents())
    assert names == ["claude:shop-api", "claude:shop-api#77aa11"]


async def test_review_stop_retry_keeps_claude_working(
    store: SqliteStore, env: dict[str, str]
) -> None:
    env = {**env, "SWARMDECK_HOOKS__REVIEW_STOP": "true"}
    hook = await start_hook(store.path, payload("stop"), env)
    [esc] = await open_escalations(store)
    assert esc.kind == "question"
    assert "finished" in esc.title
    await store.decide(esc.id, "retry", actor="ana@laptop", reason="also update the changelog")
    code, body, _ = await hook.result()
    assert (code, body) == (0, {"decision": "block", "reason": "also update the changelog"})


async def test_terminated_hook_withdraws_its_escalation(
    store: SqliteStore, env: dict[str, str]
) -> None:
    hook = await start_hook(store.path, payload("permission_request_bash"), env)
    [esc] = await open_escalations(store)
    hook.proc.terminate()  # Claude Code interrupted, or gave up on the hook
    code, body, err = await hook.result()
    assert (code, body) == (2, None)
    assert "stopped before a decision came (SIGTERM); answered deny" in err
    withdrawn = await store.escalation(esc.id)
    assert withdrawn.state == "withdrawn"
    assert withdrawn.reason == "the hook was stopped before a decision came (SIGTERM)"


async def test_secrets_in_a_tool_call_are_masked_before_anything_stores_them(
    store: SqliteStore, env: dict[str, str]
) -> None:
    """The hook runs the same guardrails as the collector: the key in the command never
    reaches the events, the inbox title, or the audit record a decision writes."""
    secret = "AKIAIOSFODNN7EXAMPLE"
    data = payload("permission_request_bash")
    data["tool_input"]["command"] = f"AWS_ACCESS_KEY_ID={secret} aws s3 ls"
    hook = await start_hook(store.path, data, env)
    escalations = await open_escalations(store, count=2)
    approval = next(e for e in escalations if e.kind == "approval")
    assert secret not in approval.title + approval.body
    assert "[secret:aws-access-key" in approval.title
    assert any(e.kind == "guardrail" for e in escalations)
    await store.decide(approval.id, "approve", actor="ana@laptop")
    code, _, _ = await hook.result()
    assert code == 0
    stored = await store._fetchall("SELECT data FROM events")
    assert not any(secret in (row[0] or "") for row in stored)
    assert secret not in json.dumps([r.detail for r in await store.audit_records()])
