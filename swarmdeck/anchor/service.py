"""The collector's periodic checkpoint: the anchor keeps up without anyone remembering to.

Every ``audit.anchor_interval`` seconds (and once at start) the service appends a signed
checkpoint to ``audit.anchor_file`` if the chain grew since the newest one in the file.
A failure to write is logged and retried at the next interval: anchoring must never stop
the collector from ingesting and delivering.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from swarmdeck.anchor.checkpoints import Checkpoint, append, last_checkpoint, make_checkpoint
from swarmdeck.anchor.keys import SigningKey, key_path, load_or_create
from swarmdeck.config import Settings
from swarmdeck.store.audit_check import chain_head
from swarmdeck.store.db import Store

log = logging.getLogger("swarmdeck.anchor")


class AnchorService:
    """Append a checkpoint whenever the chain grew, every ``interval`` seconds."""

    def __init__(self, store: Store, path: Path, key: SigningKey, interval: float) -> None:
        self.store = store
        self.path = path
        self.key = key
        self.interval = interval
        self._last: tuple[int, str] | None = None

    async def tick(self) -> Checkpoint | None:
        """Write a checkpoint if the chain changed since the last one; return it."""
        if self._last is None:
            newest = await asyncio.to_thread(last_checkpoint, self.path)
            self._last = (newest.length, newest.head) if newest else (0, "")
        head = await chain_head(self.store)
        if head[0] == 0 or head == self._last:
            return None
        checkpoint = await make_checkpoint(self.store, self.key)
        await asyncio.to_thread(append, self.path, checkpoint)
        self._last = (checkpoint.length, checkpoint.head)
        log.info("audit: checkpoint of %d records appended to %s", checkpoint.length, self.path)
        return checkpoint

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("audit: could not write a checkpoint to %s; retrying", self.path)
            await asyncio.sleep(self.interval)


def build_anchor_service(settings: Settings, store: Store) -> AnchorService | None:
    """The periodic checkpoint writer, or None when ``audit.anchor_file`` is not set.

    Raises:
        ConfigError: the signing key file is not an Ed25519 key.
    """
    path = settings.audit.anchor_file
    if path is None:
        return None
    key = load_or_create(key_path(settings))
    return AnchorService(store, path, key, settings.audit.anchor_interval)
