"""The real ``swarmdeck hook codex|gemini`` commands, fed the payloads the real CLIs sent.

Every test runs on both paths a hook call can take: the store path (no collector: the
hook process writes and polls the store itself) and the collector path (``swarmdeck
serve`` runs; the hook hands the call over its socket). The answers must be the same,
and every failure must be the CLI's explicit "no": Codex and Gemini both let a call
through when their hook fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from swarmdeck.store.db import Store
from tests.helpers.hooks import SWARMDECK, payload
from tests.helpers.waiting import eventually, open_escalations

pytestmark = pytest.mark.slow

NO_DEMO = "[demo]\nenabled = false\n"


class Hook:
    """One running hook process."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def result(self, timeout: float = 30.0) -> tuple[int, Any, str]:
        out, err = await asyncio.wait_for(self.proc.communicate(), timeout)
        text = out.decode().strip()
        body = json.loads(text) if text else None
        assert self.proc.returncode is not None
        return self.proc.returncode, body, err.decode()


class Deck:
    """A database, its config file, and how to run hooks against them."""

    def __init__(self, root: Path, env: dict[str, str], db: Path | None = None) -> None:
        self.db = db or root / "swarm.db"
        self.config = root / "config.toml"
        if not self.config.exists():
            self.config.write_text(NO_DEMO)
        self.env = env

    async def hook(
        self,
        vendor: str,
        data: dict[str, Any] | bytes,
        *extra: str,
        env: dict[str, str] | None = None,
    ) -> Hook:
        raw = data if isinstance(data, bytes) else json.dumps(data).encode()
        proc = await asyncio.create_subprocess_exec(
            str(SWARMDECK), "--db", str(self.db), "--config", str(self.config), "hook", vendor,
            *extra, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env or self.env,
        )  # fmt: skip
        assert proc.stdin is not None
        proc.stdin.write(raw)
        await proc.stdin.drain()
        proc.stdin.close()
        return Hook(proc)


def start_collector(deck: Deck, socket: Path | None = None) -> subprocess.Popen[bytes]:
    """``swarmdeck serve`` on the deck's database, once its hook socket listens."""
    log = deck.db.with_name("serve.log")
    with log.open("wb") as out:  # a file, not a pipe nobody reads while it runs
        proc = subprocess.Popen(
            [str(SWARMDECK), "--db", str(deck.db), "--config", str(deck.config), "serve"],
            env=deck.env, stdout=subprocess.DEVNULL, stderr=out,
        )  # fmt: skip
    sock = socket or deck.db.with_name(deck.db.name + ".hook.sock")
    deadline = time.monotonic() + 60
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError(f"the collector did not open its socket: {log.read_text()[-800:]}")
        time.sleep(0.05)
    return proc


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """One collector for the module's collector-path tests (its start-up takes seconds)."""
    root = tmp_path_factory.mktemp("served")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWARMDECK_")}
    env |= {"XDG_CONFIG_HOME": str(root / "xdg"), "XDG_DATA_HOME": str(root / "data"),
            "HOME": str(root / "home")}  # fmt: skip
    deck = Deck(root, env)
    proc = start_collector(deck)
    try:
        yield root, env
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


@pytest.fixture(params=["store", "collector"])
def deck(request: pytest.FixtureRequest, tmp_path: Path, env: dict[str, str]) -> Deck:
    if request.param == "store":
        return Deck(tmp_path, env)
    root, served_env = request.getfixturevalue("served")
    return Deck(root, served_env)


@pytest.fixture
async def store(deck: Deck) -> AsyncIterator[Store]:
    s = await Store.open(deck.db)
    try:
        yield s
    finally:
        await s.close()


def fresh(name: str, **changes: Any) -> dict[str, Any]:
    """A recorded payload in a session of its own (tests share the collector's store)."""
    data = payload(name)
    data["session_id"] = f"{data['session_id'][:8]}-{os.urandom(6).hex()}"
    data.update(changes)
    return data


async def wait_open(store: Store, agent_prefix: str) -> Any:
    [esc] = await open_escalations(store)
    assert (esc.agent or "").startswith(agent_prefix)
    return esc


# ----------------------------------------------------------------------------- Codex


async def test_codex_permission_request_approved(deck: Deck, store: Store) -> None:
    data = fresh("codex/PermissionRequest")
    hook = await deck.hook("codex", data)
    esc = await wait_open(store, "codex:project")
    assert esc.kind == "approval"
    assert esc.title == "Bash: touch /tmp/swarmdeck-real-clients/project/ran"
    assert esc.origin == "codex-hook"
    assert "the model says: touch the marker file" in esc.body
    agent = await store.agent(esc.agent)
    assert (agent.role, agent.vendor, agent.state) == ("codex", "codex", "blocked")
    await store.decide(esc.id, "approve", actor="ana@laptop")
    code, body, _ = await hook.result()
    assert (code, body) == (
        0, {"hookSpecificOutput": {"hookEventName": "PermissionRequest",
                                   "decision": {"behavior": "allow"}}},
    )  # fmt: skip
    assert (await store.escalation(esc.id)).delivery == "delivered"
    assert "approved by ana@laptop" in (await store.agent(esc.agent)).activity


async def test_codex_reject_carries_the_managers_reason(deck: Deck, store: Store) -> None:
    hook = await deck.hook("codex", fresh("codex/PermissionRequest"))
    esc = await wait_open(store, "codex:")
    await store.decide(esc.id, "reject", actor="ana@laptop", reason="use a dry run")
    code, body, _ = await hook.result()
    assert code == 0
    assert body["hookSpecificOutput"]["decision"] == {
        "behavior": "deny", "message": "Denied by ana@laptop: use a dry run"
    }  # fmt: skip


async def test_codex_pretool_approval_answers_its_permission_request(
    deck: Deck, store: Store
) -> None:
    """Codex asks twice about one command (PreToolUse, then PermissionRequest when it needs
    to leave the sandbox): the manager answers once."""
    pre = fresh("codex/PreToolUse")
    hook = await deck.hook("codex", pre)
    esc = await wait_open(store, "codex:")
    assert "approving lets the call go on to Codex's own approval" in esc.body
    await store.decide(esc.id, "approve", actor="ana@laptop")
    code, body, _ = await hook.result()
    assert (code, body) == (0, None)  # PreToolUse cannot allow: no answer lets it go on
    ask = fresh("codex/PermissionRequest", session_id=pre["session_id"], turn_id=pre["turn_id"])
    code, body, _ = await (await deck.hook("codex", ask)).result(timeout=15)
    assert body["hookSpecificOutput"]["decision"] == {"behavior": "allow"}
    assert [e.id for e in await store.escalations(state="open")] == []
    # Once: the same question again waits for a manager.
    again = await deck.hook("codex", ask, "--timeout", "0.5")
    code, body, _ = await again.result()
    assert body["hookSpecificOutput"]["decision"]["behavior"] == "deny"


async def test_codex_pretool_reject_denies_with_reason(deck: Deck, store: Store) -> None:
    hook = await deck.hook("codex", fresh("codex/PreToolUse"))
    esc = await wait_open(store, "codex:")
    await store.decide(esc.id, "reject", actor="ana@laptop", reason="not on main")
    code, body, _ = await hook.result()
    assert (code, body["hookSpecificOutput"]) == (0, {
        "hookEventName": "PreToolUse", "permissionDecision": "deny",
        "permissionDecisionReason": "Denied by ana@laptop: not on main",
    })  # fmt: skip


async def test_codex_timeout_denies_and_withdraws(deck: Deck, store: Store) -> None:
    hook = await deck.hook("codex", fresh("codex/PermissionRequest"), "--timeout", "1")
    code, body, err = await hook.result()
    assert code == 0
    decision = body["hookSpecificOutput"]["decision"]
    assert decision["behavior"] == "deny"
    assert "timed out after 1s; answered deny" in decision["message"]
    assert "timed out" in err
    [esc] = [
        e
        for e in await store.escalations()
        if e.agent and e.agent.startswith("codex:") and "timed out after 1s" in (e.reason or "")
    ]
    assert esc.state == "withdrawn"


async def test_codex_killed_hook_denies_and_withdraws(deck: Deck, store: Store) -> None:
    hook = await deck.hook("codex", fresh("codex/PreToolUse"))
    esc = await wait_open(store, "codex:")
    hook.proc.terminate()  # Codex's own timeout, or an interrupt
    code, body, err = await hook.result()
    assert "stopped before a decision came" in err and "answered deny" in err
    if body is None:
        assert code == 2  # exit 2 with a reason: Codex's deny of any event
    else:
        assert code == 0
        assert body["hookSpecificOutput"]["permissionDecision"] == "deny"

    async def withdrawn() -> bool:
        return (await store.escalation(esc.id)).state == "withdrawn"

    await eventually(withdrawn)


async def test_codex_status_events_keep_the_agent_row_current(deck: Deck, store: Store) -> None:
    start = fresh("codex/SessionStart")
    session = {"session_id": start["session_id"]}
    for name, state, text in (
        ("SessionStart", "working", "session started"),
        ("UserPromptSubmit", "working", "prompt submitted"),
        ("PostToolUse", "working", "ran Bash: touch"),
        ("Stop", "idle", "finished its turn"),
        ("SessionEnd", "offline", "session ended"),
    ):
        hook = await deck.hook("codex", {**payload(f"codex/{name}"), **session})
        code, body, err = await hook.result()
        assert (code, body, err) == (0, None, ""), name
        names = [a for a in await store.agents() if a.name.startswith("codex:project")]
        agent = max(names, key=lambda a: a.last_seen)
        assert (agent.state, agent.vendor) == (state, "codex"), name
        assert text in agent.activity, name


# ----------------------------------------------------------------------------- Gemini


async def test_gemini_before_tool_approved(deck: Deck, store: Store) -> None:
    hook = await deck.hook("gemini", fresh("gemini/BeforeTool"))
    esc = await wait_open(store, "gemini:project")
    assert esc.title == "run_shell_command: touch /tmp/swarmdeck-real-clients/project/ran"
    assert esc.origin == "gemini-hook"
    assert (await store.agent(esc.agent)).vendor == "gemini"
    await store.decide(esc.id, "approve", actor="ana@laptop")
    code, body, _ = await hook.result()
    assert (code, body) == (0, {"decision": "allow"})


async def test_gemini_reject_carries_the_managers_reason(deck: Deck, store: Store) -> None:
    hook = await deck.hook("gemini", fresh("gemini/BeforeTool"))
    esc = await wait_open(store, "gemini:")
    await store.decide(esc.id, "reject", actor="ana@laptop", reason="use a dry run")
    code, body, _ = await hook.result()
    assert (code, body) == (
        0,
        {"decision": "deny", "reason": "Denied by ana@laptop: use a dry run"},
    )


async def test_gemini_timeout_exits_2_with_the_reason(deck: Deck, store: Store) -> None:
    hook = await deck.hook("gemini", fresh("gemini/BeforeTool"), "--timeout", "1")
    code, body, err = await hook.result()
    assert (code, body) == (2, None)
    assert "timed out after 1s" in err


async def test_gemini_headless_never_answers_ask(deck: Deck, store: Store) -> None:
    """The hook's ancestors hold no interactive gemini (pytest started it): an "ask"
    default would hang a headless run, so it denies."""
    deck.config.write_text(NO_DEMO + '[hooks]\ndefault = "ask"\n')
    try:
        hook = await deck.hook("gemini", fresh("gemini/BeforeTool"), "--timeout", "0.5")
        code, body, err = await hook.result()
    finally:
        deck.config.write_text(NO_DEMO)
    assert (code, body) == (2, None)
    assert "a headless Gemini run cannot ask its user" in err


async def test_gemini_killed_hook_exits_2(deck: Deck, store: Store) -> None:
    hook = await deck.hook("gemini", fresh("gemini/BeforeTool"))
    esc = await wait_open(store, "gemini:")
    hook.proc.send_signal(signal.SIGTERM)
    code, body, err = await hook.result()
    assert (code, body) == (2, None)
    assert "answered deny" in err

    async def withdrawn() -> bool:
        return (await store.escalation(esc.id)).state == "withdrawn"

    await eventually(withdrawn)


async def test_gemini_status_events(deck: Deck, store: Store) -> None:
    session = {"session_id": fresh("gemini/SessionStart")["session_id"]}
    for name, state in (("SessionStart", "working"), ("BeforeAgent", "working"),
                        ("Notification", "blocked"), ("AfterAgent", "idle"),
                        ("SessionEnd", "offline")):  # fmt: skip
        code, body, err = await (
            await deck.hook("gemini", {**payload(f"gemini/{name}"), **session})
        ).result()
        assert (code, body, err) == (0, None, ""), name
        agent = max(
            (a for a in await store.agents() if a.name.startswith("gemini:project")),
            key=lambda a: a.last_seen,
        )
        assert (agent.state, agent.vendor) == (state, "gemini"), name


# ----------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("vendor", "raw", "code", "where"),
    [
        ("codex", b"{not json", 2, "not valid JSON"),
        ("codex", b"", 2, "empty hook payload"),
        ("gemini", b"{not json", 2, "not valid JSON"),
        ("gemini", b'{"hook_event_name": "BeforeTool", "cwd": "/x"}', 2, "session_id"),
    ],
)
async def test_malformed_payload_denies(
    deck: Deck, store: Store, vendor: str, raw: bytes, code: int, where: str
) -> None:
    result = await (await deck.hook(vendor, raw)).result()
    assert result[0] == code
    assert result[1] is None
    assert where in result[2]
    assert "answered deny" in result[2]
    assert "Traceback" not in result[2]


async def test_codex_malformed_permission_request_denies_in_its_json(
    deck: Deck, store: Store
) -> None:
    data = fresh("codex/PermissionRequest")
    del data["tool_name"]
    code, body, _ = await (await deck.hook("codex", data)).result()
    assert code == 0
    assert body["hookSpecificOutput"]["decision"]["behavior"] == "deny"
    assert "without tool_name" in body["hookSpecificOutput"]["decision"]["message"]


@pytest.mark.parametrize("vendor", ["codex", "gemini"])
async def test_store_unavailable_denies(tmp_path: Path, env: dict[str, str], vendor: str) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    deck = Deck(tmp_path, env, db=blocker / "sub" / "swarm.db")  # a parent that is a file
    name = "codex/PermissionRequest" if vendor == "codex" else "gemini/BeforeTool"
    code, body, err = await (await deck.hook(vendor, payload(name))).result()
    assert "store unavailable" in err
    if vendor == "codex":
        assert code == 0
        assert body["hookSpecificOutput"]["decision"]["behavior"] == "deny"
        assert "store unavailable" in body["hookSpecificOutput"]["decision"]["message"]
    else:
        assert (code, body) == (2, None)
