"""The record against the chain: decisions, the outbox and escalations compared with audit.

The hash chain proves that its own records were not edited, reordered or dropped from
the middle; it says nothing about the rows beside it. A ``decisions`` row flipped from
reject to approve, a forged decision, an outbox row marked delivered: each is a fact the
chain *also* records, because :meth:`Store.decide` writes the decision, its outbox row
and its ``decide.<action>`` record in one transaction (with the same timestamp), and
delivery writes ``decision.delivered`` or ``decision.failed`` (by ``adapter:<name>``)
when the outbox row reaches that state. So each row has a record to agree with:

* every decision has exactly one ``decide.*`` record with the same escalation, actor and
  time, and the same action, reason, target and answer; every such record has its row;
* every decision has one outbox row, addressed where the record says (``deliver_to``);
  an outbox row that is delivered or failed has the matching record, and the latest
  delivery record of a decision agrees with its outbox row;
* a decided escalation agrees with its decision (who and what).

What the chain cannot prove (a rewrite of the whole chain, cutting its tail) needs an
anchor outside the database: see ``swarmdeck.anchor`` and docs/audit.md.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from swarmdeck.store.audit import GENESIS

if TYPE_CHECKING:
    from swarmdeck.store.base import StoreCore as Store

_DELIVERY = ("decision.delivered", "decision.failed")


async def crosscheck(store: Store) -> list[str]:
    """Every disagreement between decisions, outbox, escalations and the chain, one line each."""
    records = await store._fetchall(
        "SELECT seq, ts, actor, action, subject, detail FROM audit "
        "WHERE action LIKE 'decide.%' OR action IN (?, ?) ORDER BY seq",
        _DELIVERY,
    )
    decisions = await store._fetchall(
        "SELECT id, escalation, action, reason, target, answer, actor, ts FROM decisions "
        "ORDER BY id"
    )
    outbox = await store._fetchall(
        "SELECT id, decision, escalation, adapter, state FROM outbox ORDER BY id"
    )
    decided = await store._fetchall(
        "SELECT id, decided_by, action FROM escalations WHERE state = 'decided' ORDER BY id"
    )
    return compare(records, decisions, outbox, decided)


def _detail(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def compare(
    records: Sequence[Sequence[Any]],
    decisions: Sequence[Sequence[Any]],
    outbox: Sequence[Sequence[Any]],
    decided: Sequence[Sequence[Any]],
) -> list[str]:
    """The pure comparison behind :func:`crosscheck` (rows as selected there)."""
    problems: list[str] = []
    by_key: dict[tuple[str, str, float], list[tuple[int, str, dict[str, Any]]]] = defaultdict(list)
    deliveries: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
    for seq, ts, actor, action, subject, detail in records:
        body = _detail(detail)
        if action in _DELIVERY:
            decision = body.get("decision")
            if isinstance(decision, int):
                deliveries[decision].append((int(seq), action.removeprefix("decision."), actor))
            continue
        by_key[(subject, actor, float(ts))].append((int(seq), action.removeprefix("decide."), body))

    record_of: dict[int, tuple[int, dict[str, Any]]] = {}
    decision_of: dict[int, tuple[str, str, str]] = {}
    latest_for: dict[str, tuple[str, str]] = {}
    for did, escalation, action, reason, target, answer, actor, ts in decisions:
        decision_of[int(did)] = (escalation, action, actor)
        latest_for[escalation] = (actor, action)
        candidates = by_key.get((escalation, actor, float(ts)))
        if not candidates:
            problems.append(
                f"decision {did} ({action} on {escalation} by {actor}) has no audit record "
                "(forged, or its record was deleted)"
            )
            continue
        seq, recorded, body = candidates.pop(0)
        record_of[int(did)] = (seq, body)
        mine = {"action": action, "reason": reason, "target": target, "answer": answer}
        theirs = {"action": recorded, **{k: body.get(k) for k in ("reason", "target", "answer")}}
        for field in mine:
            if mine[field] != theirs[field]:
                problems.append(
                    f"decision {did} on {escalation}: {field} is {mine[field]!r} but audit "
                    f"record {seq} says {theirs[field]!r} (the decision row was edited)"
                )
    for (escalation, actor, _ts), left in sorted(by_key.items()):
        for seq, recorded, _body in left:
            problems.append(
                f"audit record {seq} (decide.{recorded} on {escalation} by {actor}) has no "
                "decision row (deleted or edited)"
            )

    rows_for: dict[int, list[tuple[int, str, str, str]]] = defaultdict(list)
    for oid, did, escalation, adapter, state in outbox:
        rows_for[int(did)].append((int(oid), escalation, adapter, state))
        if int(did) not in decision_of:
            problems.append(f"outbox {oid} carries decision {did}, which does not exist")
    for did, (escalation, _action, _actor) in decision_of.items():
        rows = rows_for.get(did, [])
        if len(rows) != 1:
            problems.append(f"decision {did} on {escalation} has {len(rows)} outbox rows, not 1")
            continue
        oid, out_escalation, adapter, state = rows[0]
        seq_body = record_of.get(did)
        if out_escalation != escalation:
            problems.append(
                f"outbox {oid} names escalation {out_escalation}, its decision {did} {escalation}"
            )
        if seq_body is not None and seq_body[1].get("deliver_to") not in (None, adapter):
            problems.append(
                f"outbox {oid} delivers to {adapter!r} but audit record {seq_body[0]} says "
                f"{seq_body[1].get('deliver_to')!r} (the outbox row was edited)"
            )
        delivered = deliveries.get(did, [])
        if state in ("delivered", "failed") and not any(
            r[1] == state and r[2] == f"adapter:{adapter}" for r in delivered
        ):
            problems.append(
                f"outbox {oid} (decision {did}) is {state} but the chain has no "
                f"decision.{state} record for it"
            )
        elif delivered and delivered[-1][1] != state:
            problems.append(
                f"outbox {oid} (decision {did}) is {state} but audit record {delivered[-1][0]} "
                f"says {delivered[-1][1]}"
            )

    for escalation, decided_by, action in decided:
        latest = latest_for.get(escalation)
        if latest is None:
            problems.append(f"escalation {escalation} is decided but has no decision row")
        elif latest != (decided_by, action):
            problems.append(
                f"escalation {escalation} says {action} by {decided_by}, its decision row "
                f"{latest[1]} by {latest[0]}"
            )
    return problems


async def chain_head(store: Store) -> tuple[int, str]:
    """``(length, hash of the newest record)``; ``(0, GENESIS)`` for an empty chain."""
    row = await store._fetchone("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


async def chain_hash_at(store: Store, seq: int) -> str | None:
    """The stored hash of record ``seq`` (GENESIS for 0), None when there is no such record."""
    if seq == 0:
        return GENESIS
    row = await store._fetchone("SELECT hash FROM audit WHERE seq = ?", (seq,))
    return None if row is None else str(row[0])
