"""The tamper-evident audit chain: each record hashes its content and the previous hash.

Editing a record breaks its own hash; deleting or reordering one breaks the link
of the record after it. Verification walks the chain once and names every record
at fault, so an auditor learns *which* entry was touched, not just that one was.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

#: The ``prev`` of the first record.
GENESIS = "0" * 64


def canonical(seq: int, ts: float, actor: str, action: str, subject: str, detail: str) -> bytes:
    """The exact bytes hashed for one record (stable across Python versions)."""
    return json.dumps(
        [seq, repr(float(ts)), actor, action, subject, detail],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")


def record_hash(
    prev: str, seq: int, ts: float, actor: str, action: str, subject: str, detail: str
) -> str:
    """SHA-256 over the previous hash and the record's canonical bytes."""
    digest = hashlib.sha256(prev.encode("ascii"))
    digest.update(canonical(seq, ts, actor, action, subject, detail))
    return digest.hexdigest()


def dump_detail(detail: dict[str, Any]) -> str:
    """Serialise a record's detail deterministically (sorted keys)."""
    return json.dumps(detail, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def verify_rows(
    rows: list[tuple[int, float, str, str, str, str, str, str]],
) -> tuple[int, list[str]]:
    """Check a chain given as ``(seq, ts, actor, action, subject, detail, prev, hash)`` rows.

    Returns:
        The number of records checked and a list of problems, one line each.
    """
    problems: list[str] = []
    expected_prev = GENESIS
    expected_seq = 1
    for seq, ts, actor, action, subject, detail, prev, stored in rows:
        if seq != expected_seq:
            if seq > expected_seq:
                missing = (
                    f"record {expected_seq}"
                    if seq == expected_seq + 1
                    else f"records {expected_seq}-{seq - 1}"
                )
                problems.append(f"{missing} deleted (chain jumps to {seq})")
            else:
                problems.append(f"record {seq} out of order")
        if prev != expected_prev:
            problems.append(
                f"record {seq}: link to the previous record is broken "
                "(reordered, or a predecessor was altered)"
            )
        if record_hash(prev, seq, ts, actor, action, subject, detail) != stored:
            problems.append(f"record {seq}: content does not match its hash (edited)")
        expected_prev = stored
        expected_seq = seq + 1
    return len(rows), problems
