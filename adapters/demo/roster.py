"""Who is in the simulated swarm, and who is free for work.

Free agents wait in one first-in-first-out pool per role, so handing out work costs
O(1) whatever the swarm's size.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import OrderedDict

from swarmdeck.adapters.demo.catalogue import HOSTS, MODELS, ROLE_SHARE, ROLES
from swarmdeck.adapters.demo.world import SimAgent

#: Swarms up to this size run on the named :data:`HOSTS`; bigger ones on numbered nodes.
_NAMED_HOSTS_UP_TO = 48


class Roster:
    """The swarm's agents by name and by role, and the pools of free ones.

    Args:
        rng: the simulation's generator (models are drawn from it, in agent order).
        n: how many agents; every role gets at least one once there are four.
    """

    def __init__(self, rng: random.Random, n: int) -> None:
        self._rng = rng
        self._rr = 0
        self.agents: dict[str, SimAgent] = {}
        self.by_role: dict[str, list[SimAgent]] = {r: [] for r in ROLES}
        self._free: dict[str, OrderedDict[str, SimAgent]] = {r: OrderedDict() for r in ROLES}
        counts = _headcount(n)
        index = 0
        for role in ROLES:
            for k in range(1, counts.get(role, 0) + 1):
                host = (
                    HOSTS[index % len(HOSTS)]
                    if n <= _NAMED_HOSTS_UP_TO
                    else f"node-{index // 16 + 1:04d}"
                )
                agent = SimAgent(f"{role}-{k}", role, rng.choice(MODELS[role]), host)
                self.agents[agent.name] = agent
                self.by_role[role].append(agent)
                self._free[role][agent.name] = agent
                index += 1
        # Roles nobody plays fall back to the biggest team.
        biggest = max(ROLES, key=lambda r: len(self.by_role[r]))
        #: The role that actually runs work meant for each role.
        self.role_map: dict[str, str] = {r: (r if self.by_role[r] else biggest) for r in ROLES}

    # ------------------------------------------------------------------ free pools

    def take_free(self, role: str) -> SimAgent | None:
        """The agent of ``role`` that has waited longest for work, now taken off the pool."""
        pool = self._free[role]
        if not pool:
            return None
        return pool.popitem(last=False)[1]

    def has_free(self, role: str) -> bool:
        """Whether an agent of ``role`` is waiting for work."""
        return bool(self._free[role])

    def mark_busy(self, agent: SimAgent) -> None:
        self._free[agent.role].pop(agent.name, None)

    def mark_free(self, agent: SimAgent) -> None:
        self._free[agent.role][agent.name] = agent

    # ------------------------------------------------------------------ rerouting

    def reroute_targets(self, agent: SimAgent) -> list[str]:
        """Up to three teammates to offer when ``agent``'s task fails: free ones first."""
        free = [a for a in itertools.islice(self._free[agent.role].values(), 3) if a is not agent]
        if len(free) < 3:
            team = self.by_role[agent.role]
            start = team.index(agent) if len(team) < 64 else self._rng.randrange(len(team))
            for k in range(1, min(len(team), 8)):
                candidate = team[(start + k) % len(team)]
                if candidate is not agent and candidate not in free:
                    free.append(candidate)
                if len(free) >= 3:
                    break
        return [a.name for a in free]

    def resolve_target(self, target: str, current: SimAgent | None) -> SimAgent | None:
        """The agent a reroute to ``target`` lands on: an agent by name, or another agent
        of a role (``coder``, ``coders``, ``role:coder``), a free one first. None when
        nobody fits: no such agent or role, or the current agent is its only member."""
        target = target.strip()
        if target in self.agents:
            return self.agents[target]
        role = target.removeprefix("role:").strip()
        role = role.rstrip("s") if role.rstrip("s") in self.by_role else role
        team = self.by_role.get(role)
        if not team:
            return None
        for agent in self._free[role].values():
            if agent is not current:
                return agent
        for _ in range(len(team)):
            self._rr += 1
            agent = team[self._rr % len(team)]
            if agent is not current:
                return agent
        return None

    def role_of(self, target: str) -> str | None:
        """The role ``target`` names (``role:coder``, ``coders``), if it names one."""
        role = target.strip().removeprefix("role:").strip()
        role = role.rstrip("s") if role.rstrip("s") in self.by_role else role
        return role if role in self.by_role else None


def _headcount(n: int) -> dict[str, int]:
    """Agents per role: the catalogue's shares, coders taking the rest."""
    if n < 4:
        counts = dict.fromkeys(("coder", "planner", "reviewer", "tester"), 0)
        for i in range(n):
            counts[("coder", "planner", "reviewer", "tester")[i]] += 1
        return counts
    counts = {r: max(1, math.floor(n * share + 0.5)) for r, share in ROLE_SHARE.items()}
    counts["coder"] = n - sum(counts.values())
    return counts
