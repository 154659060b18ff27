"""Leases: which collector leads an adapter instance (or the policy engine), fenced by epoch.

A lease is a row ``(name, holder, epoch, expires_ts)``. :meth:`LeasesMixin.try_lead`
acquires a free or expired lease, or renews one the caller already holds (a
heartbeat); the epoch grows on every change of holder, so it is a fencing token: a
write made under an old epoch (``append_with_state(..., lease=(name, epoch))``) is
refused once another holder took over, and a collector that lost its lease can never
move positions under its successor.

Leases do not move ``rev``: a heartbeat every few seconds must not wake every TUI.
Expiry uses the store's clock, so collectors that share a database need clocks in
step (NTP) to well within the lease's ttl.
"""

from __future__ import annotations

from swarmdeck.store.base import StoreCore
from swarmdeck.store.errors import LeaseLost
from swarmdeck.store.models import Lease

#: ``expires_ts`` of a released lease: taken by the next caller, whatever its clock says.
_RELEASED = 0.0


class LeasesMixin(StoreCore):
    """Leadership per name, with fencing epochs."""

    async def try_lead(self, name: str, holder: str, ttl: float) -> int | None:
        """Acquire or renew ``name`` for ``holder`` for ``ttl`` seconds.

        Returns:
            The fencing epoch while ``holder`` leads (it grows on every change of
            holder), or None while another holder's lease is live.
        """

        async def body() -> int | None:
            now = self.clock()
            for _ in range(2):
                row = await self._fetchone(
                    f"SELECT holder, epoch, expires_ts FROM leases WHERE name = ?"
                    f"{self._for_update}",
                    (name,),
                )
                if row is None:
                    inserted = await self._exec(
                        "INSERT INTO leases(name, holder, epoch, expires_ts) VALUES (?, ?, 1, ?) "
                        "ON CONFLICT(name) DO NOTHING",
                        (name, holder, now + ttl),
                    )
                    if inserted:
                        return 1
                    continue  # another store created it first: decide on its row
                current, epoch, expires = str(row[0]), int(row[1]), float(row[2])
                if current == holder:
                    await self._exec(
                        "UPDATE leases SET expires_ts = ? WHERE name = ?", (now + ttl, name)
                    )
                    return epoch
                if expires > now:
                    return None
                await self._exec(
                    "UPDATE leases SET holder = ?, epoch = ?, expires_ts = ? WHERE name = ?",
                    (holder, epoch + 1, now + ttl, name),
                )
                return epoch + 1
            return None

        return await self._transact(body, bumps=False)

    async def release_lead(self, name: str, holder: str) -> None:
        """Give ``name`` up now (a clean shutdown), if ``holder`` holds it: the next
        :meth:`try_lead` by anyone takes it at once, with the next epoch."""
        await self._transact(
            lambda: self._exec(
                "UPDATE leases SET expires_ts = ? WHERE name = ? AND holder = ?",
                (_RELEASED, name, holder),
            ),
            bumps=False,
        )

    async def leases(self) -> list[Lease]:
        """Every lease, by name (expired ones too: ``expires_ts`` says)."""
        rows = await self._fetchall(
            "SELECT name, holder, epoch, expires_ts FROM leases ORDER BY name"
        )
        return [Lease(str(r[0]), str(r[1]), int(r[2]), float(r[3])) for r in rows]

    async def _check_lease_in_tx(self, lease: tuple[str, int]) -> None:
        """Raise :class:`LeaseLost` unless ``lease`` is held with that epoch; call inside
        :meth:`_transact`. PostgreSQL keeps the row share-locked until commit, so a
        takeover waits for this transaction and then sees what it wrote."""
        name, epoch = lease
        lock = " FOR SHARE" if self.dialect == "postgres" else ""
        row = await self._fetchone(
            f"SELECT holder, epoch FROM leases WHERE name = ?{lock}", (name,)
        )
        if row is None or int(row[1]) != epoch:
            raise LeaseLost(
                name,
                epoch,
                None if row is None else str(row[0]),
                None if row is None else int(row[1]),
            )
