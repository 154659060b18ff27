"""Issue 10, item 12: keys split by invisible characters, and providers the list lacked.

A key split by U+200B, U+00AD, U+FEFF or ``ESC[0m`` was stored unmasked and ``ls``
showed it whole; a Stripe live key written to ``.env`` by Claude Code passed unmasked.
Each case goes through the real ingest filter into a real store, and the stored text
(what ``ls``, exports and the TUI read) must hold no piece of the key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from swarmdeck.adapters.bridge import StoreBridge
from swarmdeck.guardrails import GuardrailConfig, IngestFilter
from swarmdeck.guardrails.normalise import normalise
from swarmdeck.store.db import Store
from swarmdeck.store.governance import vault_find
from tests.helpers.clock import Script
from tests.helpers.hooks import claude_translator

LEFT, RIGHT = "ghp_R8fXq2LmZ0aB3cD4", "eF5gH6iJ7kL8mN9oP0qR"
TOKEN = LEFT + RIGHT
SPLITTERS = {
    "zero-width-space": "\u200b",
    "soft-hyphen": "\u00ad",
    "bom": "\ufeff",
    "ansi-reset": "\x1b[0m",
    "word-joiner": "\u2060",
    "bidi-override": "\u202e",
}
STRIPE = "sk_" + "live_" + "51HqLyjWDarjtT1zdp7dcXyZa"


def assert_no_key(stored: str, *pieces: str) -> None:
    for text in (stored, normalise(stored)[0]):
        for piece in pieces:
            assert piece not in text, f"{piece!r} left in clear in {stored!r}"


@pytest.mark.parametrize("how", sorted(SPLITTERS))
async def test_a_split_key_is_masked_in_what_is_stored(
    clocked_store: Store, clocked_ev: Script, how: str
) -> None:
    split = LEFT + SPLITTERS[how] + RIGHT
    flt = IngestFilter(GuardrailConfig(), store=clocked_store)
    event = clocked_ev(
        "log", agent="coder-1", data={"text": f"export GITHUB_TOKEN={split}; git push"}
    )
    await clocked_store.append(await flt([event], "demo"), origin="demo")
    [stored] = [e for e in await clocked_store.recent_events(agent="coder-1") if e.kind == "log"]
    text = stored.data["text"]
    assert "[secret:github-token …P0qR]; git push" in text
    assert_no_key(text, LEFT, RIGHT, TOKEN)
    [kept] = await vault_find(clocked_store, event=(stored.source, stored.id))
    assert kept.original == split  # reveal shows exactly what the agent sent


async def test_a_stripe_live_key_written_to_env_by_claude_code_is_masked(
    clocked_store: Store, tmp_path: Path
) -> None:
    payload = json.dumps(
        {
            "session_id": "s1",
            "cwd": str(tmp_path),
            "hook_event_name": "PreToolUse",
            "tool_name": "Write",
            "tool_input": {
                "file_path": str(tmp_path / ".env"),
                "content": f"STRIPE_SECRET_KEY={STRIPE}\nDEBUG=0\n",
            },
        }
    )
    origin = "claude-code-hook"
    bridge = StoreBridge(
        clocked_store, origin=origin, filters=[IngestFilter(GuardrailConfig(), store=clocked_store)]
    )
    t = claude_translator(payload, "claude:p", origin)
    await bridge.emit([*t.seen(), t.escalation("cc-1")])
    esc = await clocked_store.escalation("cc-1")
    assert "[secret:stripe-access-token" in esc.body
    assert_no_key(esc.title + esc.body, STRIPE, STRIPE[8:])
    guardrail = [e for e in await clocked_store.escalations() if e.kind == "guardrail"]
    assert guardrail and "stripe-access-token" in guardrail[0].title


@pytest.mark.slow
def test_ls_shows_no_key_left_in_clear(tmp_path: Path) -> None:
    lines = [
        json.dumps({"v": 1, "id": f"s{i}", "ts": "2026-11-23T10:00:00Z", "source": "t",
                    "kind": "agent.status", "agent": f"a-{how}",
                    "data": {"state": "working", "activity": f"token {LEFT}{c}{RIGHT}"}})
        for i, (how, c) in enumerate(sorted(SPLITTERS.items()))
    ]  # fmt: skip
    config = tmp_path / "config.toml"
    config.write_text("[demo]\nenabled = false\n")
    env = {k: v for k, v in os.environ.items() if k != "SWARMDECK_CONFIG"}
    base = [
        sys.executable,
        "-m",
        "swarmdeck",
        "--db",
        str(tmp_path / "t.db"),
        "--config",
        str(config),
    ]
    out = subprocess.run([*base, "ingest", "-"], input="\n".join(lines) + "\n", text=True,
                         capture_output=True, env=env, timeout=60, check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr
    for args in (["ls", "agents"], ["ls", "agents", "--json"]):
        shown = subprocess.run([*base, *args], text=True, capture_output=True, env=env,
                               timeout=60, check=False)  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.count("[secret:github-token") == len(SPLITTERS)
        assert_no_key(shown.stdout, LEFT, RIGHT)
