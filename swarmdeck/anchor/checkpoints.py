"""Signed checkpoints of the chain head, in an append-only file, and their verification.

A checkpoint says "at this time the chain had N records and record N hashed to H",
signed. Because each record's hash covers the one before, H pins records 1..N: a later
edit of any of them, even with the whole chain recomputed, changes record N's hash; a
cut tail or a deleted chain loses record N. Verification walks the file and checks,
for every checkpoint, the signature and that the database still holds H at N.

One JSON object a line (sorted keys): ``v``, ``length``, ``head``, ``time`` (ISO 8601,
UTC), ``db`` (the database path, for the reader), ``key`` (the key id) and ``sig``
(base64 Ed25519 over the canonical JSON of the other fields).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from swarmdeck.anchor.keys import SigningKey, key_id, verify_signature
from swarmdeck.store.audit_check import chain_hash_at, chain_head
from swarmdeck.store.db import Store

VERSION = 1


@dataclass(frozen=True, slots=True)
class Checkpoint:
    length: int
    head: str
    time: str
    db: str
    key: str
    sig: str = ""
    v: int = VERSION

    def payload(self) -> bytes:
        """The exact bytes signed: every field but ``sig``, canonical JSON."""
        fields = {k: v for k, v in asdict(self).items() if k != "sig"}
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def line(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Raises ValueError naming what is wrong with the line."""
        try:
            raw: Any = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not JSON ({exc})") from None
        if not isinstance(raw, dict) or raw.get("v") != VERSION:
            raise ValueError(f"not a version {VERSION} checkpoint")
        try:
            cp = cls(
                length=int(raw["length"]), head=str(raw["head"]), time=str(raw["time"]),
                db=str(raw["db"]), key=str(raw["key"]), sig=str(raw["sig"]),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"missing or bad field {exc}") from None
        if set(raw) != set(asdict(cp)):
            raise ValueError(f"unexpected fields {sorted(set(raw) - set(asdict(cp)))}")
        return cp


async def make_checkpoint(store: Store, key: SigningKey, *, now: float | None = None) -> Checkpoint:
    """A signed checkpoint of the chain head as it is now."""
    length, head = await chain_head(store)
    when = datetime.fromtimestamp(store.clock() if now is None else now, UTC)
    unsigned = Checkpoint(length, head, when.isoformat(), store.location, key.id)
    signature = base64.b64encode(key.sign(unsigned.payload())).decode("ascii")
    return Checkpoint(length, head, unsigned.time, unsigned.db, unsigned.key, signature)


def append(path: Path, checkpoint: Checkpoint) -> None:
    """Append one line with ``O_APPEND`` (0600 when created) and fsync it.

    ``O_APPEND`` makes each write land at the end even with several writers; pair the
    file with storage that refuses rewrites (``chattr +a``, a WORM bucket, another host).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (checkpoint.line() + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def last_checkpoint(path: Path) -> Checkpoint | None:
    """The newest readable checkpoint in the file (None when there is none)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for text in reversed(lines):
        try:
            return Checkpoint.parse(text)
        except ValueError:
            continue
    return None


@dataclass(slots=True)
class AnchorVerdict:
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify(store: Store, path: Path, public: Ed25519PublicKey) -> AnchorVerdict:
    """Check every checkpoint in ``path`` against ``store`` and the public key.

    Raises:
        OSError: the file cannot be read.
    """
    verdict = AnchorVerdict()
    expected_key = key_id(public)
    previous: tuple[int, Checkpoint] | None = None
    content = await asyncio.to_thread(path.read_text, encoding="utf-8")
    for number, text in enumerate(content.splitlines(), start=1):
        if not text.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            cp = Checkpoint.parse(text)
        except ValueError as exc:
            verdict.problems.append(f"{where}: not a checkpoint ({exc})")
            continue
        verdict.checkpoints += 1
        if cp.key != expected_key:
            verdict.problems.append(
                f"{where}: signed by key {cp.key}, not by the key being checked ({expected_key})"
            )
            continue
        try:
            signature = base64.b64decode(cp.sig, validate=True)
        except (binascii.Error, ValueError):
            signature = b""
        if not verify_signature(public, signature, cp.payload()):
            verdict.problems.append(f"{where}: bad signature (the checkpoint was altered)")
            continue
        if previous is not None and cp.length < previous[1].length:
            verdict.problems.append(
                f"{where}: anchors {cp.length} records, fewer than line {previous[0]} "
                f"({previous[1].length}): the chain shrank between them"
            )
        previous = (number, cp)
        stored = await chain_hash_at(store, cp.length)
        if stored is None:
            length, _head = await chain_head(store)
            verdict.problems.append(
                f"{where}: the chain had {cp.length} records at {cp.time}; it has {length} "
                f"now (records {length + 1}-{cp.length} were cut or the chain was deleted)"
            )
        elif stored != cp.head:
            verdict.problems.append(
                f"{where}: record {cp.length} no longer has the head hash anchored at "
                f"{cp.time} (records 1-{cp.length} were rewritten)"
            )
    if verdict.checkpoints == 0 and not verdict.problems:
        verdict.problems.append(f"{path}: no checkpoints to check")
    return verdict
