"""A coding-agent session's agent name: ``<vendor>:<dir>``, stable per session.

A manager reads the Swarm pane by project: the session of Codex working in
``~/src/shop-api`` is ``codex:shop-api``. A second live session in the same directory
gets a short session suffix (``codex:shop-api#77aa11``) instead of merging into the
first one's row; once the first one is over, a new session takes the plain name back.
A subagent is its own row under its session: ``claude:shop-api/sub:test-runner#a3f9c2``.
"""

from __future__ import annotations

import os
import re

from swarmdeck.store.db import Store

#: A session whose agent was seen this recently keeps its name to itself.
SESSION_LIVE_SECONDS = 3600.0

_SLUG = re.compile(r"[^A-Za-z0-9_.\-]+")


def short(identifier: str) -> str:
    """Six letters or digits of an id: enough to tell two sessions apart on screen."""
    return re.sub(r"[^A-Za-z0-9]", "", identifier)[:6] or "x"


def base_name(prefix: str, cwd: str) -> str:
    """``("codex", "/home/u/repo")`` -> ``codex:repo``."""
    leaf = os.path.basename(os.path.normpath(cwd)) or "root"
    return f"{prefix}:" + (_SLUG.sub("-", leaf).strip("-") or "root")[:80]


def subagent_name(parent: str, agent_type: str | None, agent_id: str) -> str:
    kind = _SLUG.sub("-", agent_type or "subagent").strip("-")[:40] or "subagent"
    return f"{parent}/sub:{kind}#{short(agent_id)}"


async def session_agent_name(
    store: Store, namespace: str, prefix: str, session_id: str, cwd: str, now: float
) -> str:
    """The agent name of a session: stable per session, ``<prefix>:<dir>`` when free.

    Args:
        namespace: the ``adapter_state`` namespace of this vendor's sessions
            (``codex.sessions``): session id -> agent name, shared by every path.
    """
    known = await store.get_state(namespace, session_id)
    if known is not None:
        return known  # the common case: a plain read, no write lock
    base = base_name(prefix, cwd)
    return await claim_session_agent(
        store,
        namespace,
        session_id,
        base=base,
        alternative=f"{base}#{short(session_id)}",
        live_since=now - SESSION_LIVE_SECONDS,
    )


async def claim_session_agent(
    store: Store,
    namespace: str,
    session_id: str,
    *,
    base: str,
    alternative: str,
    live_since: float,
) -> str:
    """The agent name of ``session_id``: the one it has, else ``base``, else ``alternative``
    while another session holding ``base`` is live.

    One ``BEGIN IMMEDIATE`` transaction, so two hook processes of two new sessions in the
    same directory cannot both take the plain name.

    Merge note: this is the store-api branch's ``swarmdeck.store.queries.sessions.
    claim_session_agent`` (same signature); its SQL moves there and this becomes an import.
    """
    async with store.write() as db:
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
                # The old session is over: this one takes the plain name; if the old one
                # comes back it is named afresh (and gets a suffix while this one lives).
                await db.executemany(
                    "DELETE FROM adapter_state WHERE adapter = ? AND key = ?",
                    [(namespace, str(h[0])) for h in holders],
                )
        await db.execute(
            "INSERT INTO adapter_state(adapter, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT(adapter, key) DO UPDATE SET value = excluded.value",
            (namespace, session_id, name),
        )
        return name
