"""An anchor for the audit chain outside the database: signed checkpoints of its head.

The chain in the database is tamper-evident only against someone who does not
recompute it: whoever can write the database can rewrite every record and its hash,
cut the tail and fix ``meta.audit_count``, or delete it all. A checkpoint (chain
length, head hash, time) signed with an Ed25519 key kept *outside* the database and
appended to a file outside it makes such a rewrite detectable later: ``swarmdeck
audit verify --anchor FILE``. What that does and does not prove: docs/audit.md.

- :mod:`swarmdeck.anchor.keys`: the signing key (0600, made on first use).
- :mod:`swarmdeck.anchor.checkpoints`: the checkpoint, the file, verification.
- :mod:`swarmdeck.anchor.service`: the collector's periodic checkpoint.
"""

from __future__ import annotations

from swarmdeck.anchor.checkpoints import AnchorVerdict, Checkpoint, append, make_checkpoint, verify
from swarmdeck.anchor.keys import SigningKey, key_path, load_or_create, load_public
from swarmdeck.anchor.service import AnchorService, build_anchor_service

__all__ = [
    "AnchorService",
    "AnchorVerdict",
    "Checkpoint",
    "SigningKey",
    "append",
    "build_anchor_service",
    "key_path",
    "load_or_create",
    "load_public",
    "make_checkpoint",
    "verify",
]
