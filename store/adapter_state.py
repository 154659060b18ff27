"""What adapters keep in the store about themselves: positions (state) and health.

``adapter_state`` is a small key/value space per adapter instance (a file offset,
an HTTP cursor, a run number, the policy engine's feed position). It is written in
the same transaction as the events it covers (:meth:`AppendMixin.append_with_state`)
so a restart neither re-reads nor skips. ``adapter_health`` is what the supervisor
reports and the status line shows; it bumps ``rev`` so every TUI sees a crash.
"""

from __future__ import annotations

from collections.abc import Mapping

from swarmdeck.store.base import StoreCore
from swarmdeck.store.models import AdapterHealth

_UPSERT_STATE = (
    "INSERT INTO adapter_state(adapter, key, value) VALUES (?, ?, ?) "
    "ON CONFLICT(adapter, key) DO UPDATE SET value = excluded.value"
)


class AdapterStateMixin(StoreCore):
    """Per-adapter key/value state and health."""

    async def get_state(self, adapter: str, key: str) -> str | None:
        row = await self._fetchone(
            "SELECT value FROM adapter_state WHERE adapter = ? AND key = ?", (adapter, key)
        )
        return None if row is None else str(row[0])

    async def get_states(self, adapter: str) -> dict[str, str]:
        rows = await self._fetchall(
            "SELECT key, value FROM adapter_state WHERE adapter = ?", (adapter,)
        )
        return {str(k): str(v) for k, v in rows}

    async def set_state(self, adapter: str, key: str, value: str) -> None:
        await self._transact(lambda: self._set_states_in_tx(adapter, {key: value}), bumps=False)

    async def delete_state(self, adapter: str, key: str) -> None:
        """Forget one entry (a task the policy engine no longer follows)."""
        await self._transact(
            lambda: self._exec(
                "DELETE FROM adapter_state WHERE adapter = ? AND key = ?", (adapter, key)
            ),
            bumps=False,
        )

    async def _set_states_in_tx(self, adapter: str, state: Mapping[str, str]) -> None:
        if state:
            await self._exec_many(_UPSERT_STATE, [(adapter, k, v) for k, v in state.items()])

    async def set_health(
        self,
        name: str,
        type_: str,
        state: str,
        *,
        detail: str = "",
        restarts: int = 0,
        last_error: str | None = None,
    ) -> None:
        """Record an adapter instance's health; ``last_error`` None keeps the previous one."""

        async def body() -> None:
            rev = await self._bump_rev()
            await self._exec(
                "INSERT INTO adapter_health(name, type, state, detail, restarts, last_error, "
                "updated_ts, rev) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                "type = excluded.type, state = excluded.state, detail = excluded.detail, "
                "restarts = excluded.restarts, "
                "last_error = COALESCE(excluded.last_error, adapter_health.last_error), "
                "updated_ts = excluded.updated_ts, rev = excluded.rev",
                (name, type_, state, detail, restarts, last_error, self.clock(), rev),
            )

        await self._transact(body)

    async def adapter_health(self) -> list[AdapterHealth]:
        rows = await self._fetchall(
            "SELECT name, type, state, detail, restarts, last_error, updated_ts, rev "
            "FROM adapter_health ORDER BY name"
        )
        return [AdapterHealth(*r) for r in rows]
