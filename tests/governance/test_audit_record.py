"""Issue 10, item 13: the record must prove what was decided, even against a rewrite.

``audit verify`` passed after: flipping a decision from reject to approve, forging a
decision row, deleting a decision's audit record (and re-linking the chain), cutting the
tail and fixing ``meta.audit_count``, deleting every record, editing one and recomputing
the chain. Each case tampers with the database file directly, as someone with write
access would, and must be detected: the first ones by cross-checking decisions and the
outbox against the chain, the last ones by the signed checkpoints kept outside.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from swarmdeck.anchor import AnchorService, load_or_create, make_checkpoint, verify
from swarmdeck.anchor.checkpoints import append
from swarmdeck.collector import build_services
from swarmdeck.config import load_settings
from swarmdeck.store.audit import GENESIS, record_hash
from swarmdeck.store.db import Store
from tests.helpers.clock import Clock, Script

Tamper = Callable[[sqlite3.Connection], None]


async def history(db: Path, clock: Clock) -> None:
    """Two decisions (a reject, an approve delivered), then a reveal-style record last."""
    async with await Store.open(db, clock=clock) as store:
        ev = Script(clock)
        for eid in ("E-1", "E-2"):
            await store.append(
                [ev("escalation.raised", agent="coder-1",
                    data={"id": eid, "kind": "approval", "title": f"Bash: deploy {eid}"})],
                origin="ci",
            )  # fmt: skip
        clock.advance(1)
        await store.decide("E-1", "reject", actor="ann@box", reason="not on a Friday")
        clock.advance(1)
        await store.decide("E-2", "approve", actor="bob@box")
        [delivery] = [d for d in await store.due_deliveries() if d.decision.escalation == "E-2"]
        await store.delivery_succeeded(delivery.outbox_id)
        clock.advance(1)
        await store.audit("ann@box", "reveal", "guardrail-1", {"why": "incident 7"})


def tamper(db: Path, change: Tamper) -> None:
    conn = sqlite3.connect(db)
    try:
        change(conn)
        conn.commit()
    finally:
        conn.close()


def rechain(conn: sqlite3.Connection) -> None:
    """What an attacker who read store/audit.py does: renumber, re-link, re-hash, fix the count."""
    rows = conn.execute(
        "SELECT seq, ts, actor, action, subject, detail FROM audit ORDER BY seq"
    ).fetchall()
    conn.execute("DELETE FROM audit")
    prev = GENESIS
    for seq, (_old, ts, actor, action, subject, detail) in enumerate(rows, start=1):
        digest = record_hash(prev, seq, ts, actor, action, subject, detail)
        conn.execute(
            "INSERT INTO audit(seq, ts, actor, action, subject, detail, prev, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, ts, actor, action, subject, detail, prev, digest),
        )
        prev = digest
    conn.execute("UPDATE meta SET value = ? WHERE key = 'audit_count'", (len(rows),))


def flip_reject_to_approve(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE decisions SET action = 'approve', reason = NULL WHERE escalation = 'E-1'")
    conn.execute("UPDATE escalations SET action = 'approve' WHERE id = 'E-1'")


def forge_decision(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO decisions(escalation, action, actor, ts) VALUES ('E-1', 'approve', 'x', 1)"
    )


def delete_decision_record(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM audit WHERE action = 'decide.reject'")
    rechain(conn)


def mark_delivered_without_record(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE outbox SET state = 'delivered' WHERE escalation = 'E-1'")


def cut_tail(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)")
    conn.execute("UPDATE meta SET value = value - 1 WHERE key = 'audit_count'")


def delete_everything(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM audit")
    conn.execute("UPDATE meta SET value = 0 WHERE key = 'audit_count'")


def edit_and_rechain(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE audit SET detail = '{\"why\":\"routine\"}' WHERE action = 'reveal'")
    rechain(conn)


CROSSCHECKED = {
    "flip reject to approve": (flip_reject_to_approve, "action is 'approve' but audit record"),
    "forged decision": (forge_decision, "has no audit record (forged"),
    "deleted decision record, chain re-linked": (delete_decision_record, "has no audit record"),
    "outbox marked delivered": (mark_delivered_without_record, "no decision.delivered record"),
    "every record deleted": (delete_everything, "has no audit record"),
}
ANCHORED = {
    "tail cut, count fixed": (cut_tail, "were cut or the chain was deleted"),
    "every record deleted": (delete_everything, "were cut or the chain was deleted"),
    "one edited, chain recomputed": (edit_and_rechain, "were rewritten"),
}


async def test_an_untouched_record_verifies(tmp_path: Path, clock: Clock) -> None:
    db = tmp_path / "a.db"
    await history(db, clock)
    async with await Store.open(db, clock=clock) as store:
        verdict = await store.audit_verify()
    assert verdict.ok, verdict.problems


@pytest.mark.parametrize("case", sorted(CROSSCHECKED))
async def test_verify_cross_checks_decisions_and_outbox(
    tmp_path: Path, clock: Clock, case: str
) -> None:
    change, expected = CROSSCHECKED[case]
    db = tmp_path / "a.db"
    await history(db, clock)
    tamper(db, change)
    async with await Store.open(db, clock=clock) as store:
        verdict = await store.audit_verify()
    assert not verdict.ok
    assert any(expected in p for p in verdict.problems), verdict.problems


@pytest.mark.parametrize("case", sorted(ANCHORED))
async def test_a_rewrite_is_caught_by_the_anchor(tmp_path: Path, clock: Clock, case: str) -> None:
    change, expected = ANCHORED[case]
    db, anchors = tmp_path / "a.db", tmp_path / "anchors.jsonl"
    key = load_or_create(tmp_path / "key.pem")
    await history(db, clock)
    async with await Store.open(db, clock=clock) as store:
        append(anchors, await make_checkpoint(store, key))
        assert (await verify(store, anchors, key.public)).ok
    tamper(db, change)
    async with await Store.open(db, clock=clock) as store:
        if case != "every record deleted":
            assert (await store.audit_verify()).ok  # the chain alone cannot tell
        anchored = await verify(store, anchors, key.public)
    assert not anchored.ok
    assert any(expected in p for p in anchored.problems), anchored.problems


async def test_checkpoints_are_signed_and_the_file_is_checked_line_by_line(
    tmp_path: Path, clock: Clock
) -> None:
    db, anchors = tmp_path / "a.db", tmp_path / "anchors.jsonl"
    key = load_or_create(tmp_path / "key.pem")
    other = load_or_create(tmp_path / "other.pem")
    await history(db, clock)
    async with await Store.open(db, clock=clock) as store:
        good = await make_checkpoint(store, key)
        append(anchors, good)
        forged = json.loads(good.line())
        forged["length"] = 2  # claim a shorter chain: the signature no longer fits
        with anchors.open("a") as fh:
            fh.write(json.dumps(forged) + "\nnot json\n")
        append(anchors, await make_checkpoint(store, other))
        verdict = await verify(store, anchors, key.public)
    assert verdict.checkpoints == 3
    text = "\n".join(verdict.problems)
    assert "line 2: bad signature" in text
    assert "line 3: not a checkpoint" in text
    assert f"line 4: signed by key {other.id}" in text


async def test_the_signing_key_is_0600_and_made_once(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit.pem"
    key = load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create(path).id == key.id
    path.chmod(0o644)
    assert load_or_create(path).id == key.id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_the_collector_appends_a_checkpoint_when_the_chain_grew(
    tmp_path: Path, clock: Clock
) -> None:
    db, anchors = tmp_path / "a.db", tmp_path / "anchors.jsonl"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[audit]\nanchor_file = "{anchors}"\nanchor_interval = 60\n'
        f'signing_key = "{tmp_path / "key.pem"}"\n'
    )
    settings = load_settings(config, db=db)
    await history(db, clock)
    async with await Store.open(db, clock=clock) as store:
        [service] = [
            s for s in build_services(settings, store, clock) if isinstance(s, AnchorService)
        ]
        first = await service.tick()
        assert first is not None and first.length == 4
        assert await service.tick() is None  # nothing new: no line
        await store.audit("ann@box", "reveal", "guardrail-2", {})
        assert (await service.tick()) is not None
        restarted = AnchorService(store, anchors, service.key, 60)
        assert await restarted.tick() is None  # reads where the file left off
        assert (await verify(store, anchors, service.key.public)).checkpoints == 2
    assert stat.S_IMODE(anchors.stat().st_mode) == 0o600


def swarmdeck(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    if not config.exists():
        config.write_text(
            f'[demo]\nenabled = false\n[audit]\nsigning_key = "{tmp_path / "k.pem"}"\n'
        )
    env = {k: v for k, v in os.environ.items() if k != "SWARMDECK_CONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "swarmdeck", "--db", str(tmp_path / "a.db"), "--config",
         str(config), *args],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.slow
async def test_cli_anchor_then_verify_a_tampered_database(tmp_path: Path, clock: Clock) -> None:
    await history(tmp_path / "a.db", clock)
    anchors = tmp_path / "anchors.jsonl"
    out = swarmdeck(tmp_path, "audit", "anchor")
    assert out.returncode == 2 and "no anchor file" in out.stderr
    out = swarmdeck(tmp_path, "audit", "anchor", "--out", str(anchors))
    assert out.returncode == 0, out.stderr
    assert "checkpoint: 4 records" in out.stdout
    out = swarmdeck(tmp_path, "audit", "public-key", "--out", str(tmp_path / "pub.pem"))
    assert out.returncode == 0, out.stderr
    out = swarmdeck(tmp_path, "audit", "verify", "--anchor", str(anchors),
                    "--public-key", str(tmp_path / "pub.pem"))  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 checkpoint(s) match" in out.stdout

    tamper(tmp_path / "a.db", edit_and_rechain)
    out = swarmdeck(tmp_path, "audit", "verify")
    assert out.returncode == 0  # without the anchor a recomputed chain looks intact
    out = swarmdeck(tmp_path, "audit", "verify", "--anchor", str(anchors))
    assert out.returncode == 1
    assert "TAMPERED: anchors.jsonl line 1: record 4 no longer has the head hash" in out.stdout

    tamper(tmp_path / "a.db", flip_reject_to_approve)
    out = swarmdeck(tmp_path, "audit", "verify", "--json")
    assert out.returncode == 1
    problems = json.loads(out.stdout)["problems"]
    assert any("decision 1 on E-1: action is 'approve'" in p for p in problems), problems
