"""Naming a Claude Code session's agent: stable per session, the plain name when it is free.

The names live in ``adapter_state`` under one namespace (session id -> agent name).
Two hook processes of two new sessions in the same directory must not both take
the plain name, so the check and the claim are one transaction (SQLite: ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from swarmdeck.store.db import Store


async def claim_session_agent(
    store: Store,
    namespace: str,
    session_id: str,
    *,
    base: str,
    alternative: str,
    live_since: float,
) -> str:
    """The agent name of ``session_id``: the one it already has, else ``base``, else
    ``alternative`` while another session holding ``base`` is live.

    The holder of ``base`` is live while its agent is neither ``done`` nor ``offline``
    and was seen after ``live_since``. A holder that is over loses the plain name to
    this session (if it comes back it is named afresh).
    """

    async def body() -> str:
        await store._serialise(f"session-agent:{namespace}")
        row = await store._fetchone(
            "SELECT value FROM adapter_state WHERE adapter = ? AND key = ?",
            (namespace, session_id),
        )
        if row is not None:
            return str(row[0])
        holders = await store._fetchall(
            "SELECT key FROM adapter_state WHERE adapter = ? AND value = ? AND key != ?",
            (namespace, base, session_id),
        )
        name = base
        if holders:
            agent = await store._fetchone(
                "SELECT state, last_seen FROM agents WHERE name = ?", (base,)
            )
            live = agent is not None and (
                str(agent[0]) not in ("done", "offline") and float(agent[1]) > live_since
            )
            if live:
                name = alternative
            else:
                await store._exec_many(
                    "DELETE FROM adapter_state WHERE adapter = ? AND key = ?",
                    [(namespace, str(h[0])) for h in holders],
                )
        await store._set_states_in_tx(namespace, {session_id: name})
        return name

    return await store._transact(body, bumps=False)
