"""Item 4: no source may withdraw or rewrite another's escalation, nor rewrite its own.

The store's rule itself, on both backends, is in tests/store_contract/test_ownership.py;
these try it through the doors (a waiting HTTP hook, the hook command polling the store).

One ``escalation.withdrawn`` from an unrelated source answered a waiting hook in 0.3 s
(``allow`` with ``hooks.default = allow``); the raising source could turn an open
"Read: README.md" into "Bash: rm -rf /srv/prod" by re-raising the id.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import httpx

from swarmdeck.adapters.claude_code import ClaudeCodeAdapter
from swarmdeck.store.db import Store
from tests.doors.conftest import AUTH, SWARMDECK, instance, port_of, supervised
from tests.helpers import ev, raise_escalation
from tests.helpers.hooks import payload
from tests.helpers.waiting import open_escalations


async def test_a_foreign_withdrawal_does_not_answer_a_waiting_hook(store: Store) -> None:
    adapter = instance("claude", ClaudeCodeAdapter, port=0, timeout=60, default="allow")
    async with supervised(store, adapter) as sup:
        url = f"http://127.0.0.1:{await port_of(sup, 'claude')}/hooks/claude-code"
        async with httpx.AsyncClient(timeout=60, headers=AUTH) as http:
            waiting = asyncio.create_task(http.post(url, json=payload("permission_request_bash")))
            [esc] = await open_escalations(store)
            forged = ev(
                "escalation.withdrawn", source="intruder",
                data={"id": esc.id, "reason": "never mind"},
            )  # fmt: skip
            await store.append([forged], origin="intruder")
            await asyncio.sleep(1.0)  # the old code answered within 0.3 s
            assert not waiting.done()
            assert (await store.escalation(esc.id)).state == "open"
            await store.decide(esc.id, "reject", actor="ana", reason="not on prod")
            answer = (await waiting).json()["hookSpecificOutput"]["decision"]
    assert answer["behavior"] == "deny"
    [letter] = await store.dead_letters()
    assert "only that source may withdraw it" in letter.error


async def test_an_open_escalation_is_never_rewritten_by_a_re_raise(store: Store) -> None:
    await store.append([raise_escalation("E-1", title="Read: README.md")], origin="agent")
    same = raise_escalation("E-1", title="Read: README.md")  # a repeat, with a new event id
    await store.append([same], origin="agent")
    assert not await store.dead_letters()  # an identical repeat is idempotent
    changed = raise_escalation("E-1", title="Bash: rm -rf /srv/prod", severity="critical")
    await store.append([changed], origin="agent")
    kept = await store.escalation("E-1")
    assert (kept.title, kept.severity, kept.state) == ("Read: README.md", "normal", "open")
    [letter] = await store.dead_letters()
    assert "different content" in letter.error and "title" in letter.error
    assert "rm -rf /srv/prod" in letter.raw
    # The way to change a request: withdraw it (its own source may) and raise a new id.
    withdrawn = ev("escalation.withdrawn", data={"id": "E-1", "reason": "changed my mind"})
    await store.append([withdrawn], origin="agent")
    assert (await store.escalation("E-1")).state == "withdrawn"


def test_a_foreign_withdrawal_does_not_answer_the_hook_command(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    """The command hook polls the store: the old code took the forged withdrawal as its
    answer within a poll and, with ``hooks.default = allow``, allowed the call."""
    db = tmp_path / "db.sqlite"
    config = tmp_path / "config.toml"
    config.write_text('[hooks]\ndefault = "allow"\ntimeout = 60\n')
    proc = subprocess.Popen(
        [str(SWARMDECK), "hook", "claude-code", "--db", str(db), "--config", str(config)],
        env=clean_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(payload("permission_request_bash")).encode())
        proc.stdin.close()
        esc_id = asyncio.run(_forge_withdrawal(db))
        time.sleep(1.5)  # several polls of the hook
        assert proc.poll() is None, "the hook took the forged withdrawal as its answer"
        asyncio.run(_reject(db, esc_id))
        assert proc.stdout is not None
        proc.wait(timeout=20)
        out = proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    decision = json.loads(out)["hookSpecificOutput"]["decision"]
    assert decision["behavior"] == "deny"


async def _forge_withdrawal(db: Path) -> str:
    async with await Store.open(db) as store:
        [esc] = await open_escalations(store)
        forged = ev("escalation.withdrawn", source="intruder", data={"id": esc.id})
        await store.append([forged], origin="intruder")
        return esc.id


async def _reject(db: Path, esc_id: str) -> None:
    async with await Store.open(db) as store:
        await store.decide(esc_id, "reject", actor="ana", reason="no")
