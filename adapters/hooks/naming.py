"""A coding-agent session's agent name: ``<vendor>:<dir>``, stable per session.

A manager reads the Swarm pane by project: the session of Codex working in
``~/src/shop-api`` is ``codex:shop-api``. A second live session in the same directory
gets a short session suffix (``codex:shop-api#77aa11``) instead of merging into the
first one's row; once the first one is over (``SessionEnd`` releases its name; an agent
``done``, ``offline`` or silent for an hour loses it), a new session takes the plain name
back.
A subagent is its own row under its session: ``claude:shop-api/sub:test-runner#a3f9c2``.
"""

from __future__ import annotations

import hashlib
import os
import re

from swarmdeck.store.db import Store
from swarmdeck.store.queries.sessions import claim_session_agent

#: A session whose agent was seen this recently keeps its name to itself.
SESSION_LIVE_SECONDS = 3600.0

_SLUG = re.compile(r"[^A-Za-z0-9_.\-]+")


def short(identifier: str) -> str:
    """Six letters or digits of an id: enough to tell two sessions apart on screen."""
    return re.sub(r"[^A-Za-z0-9]", "", identifier)[:6] or "x"


#: The longest an agent-given id is kept verbatim inside an event id.
ID_PART_MAX = 64


def id_part(identifier: str) -> str:
    """An agent-given id (session, subagent) as a part of an event id.

    Short ids are kept as they are, so event ids stay readable and stable. A longer one
    (a client may send anything) is cut and given a hash of the whole, so every event id
    stays within the wire format's 200 characters while two long ids stay apart.
    """
    if len(identifier) <= ID_PART_MAX:
        return identifier
    digest = hashlib.sha256(identifier.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{identifier[: ID_PART_MAX - 17]}~{digest}"


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


async def release_session_agent(store: Store, namespace: str, session_id: str) -> None:
    """The session ended: its name is free for the next session in its directory at once.

    The agent row keeps its history (and goes ``offline`` by the ``SessionEnd`` status);
    should the session come back, it is named afresh.
    """
    await store.delete_state(namespace, session_id)
