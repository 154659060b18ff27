"""The simulated swarm: what every new user sees first, and the load generator.

Three rooms:

* :mod:`~swarmdeck.adapters.demo.catalogue`: what the swarm is made of (roles, models,
  features, the escalations it raises), as plain data.
* :class:`Simulation`: a pure, clock-injected model of a swarm of planner, coder,
  reviewer and tester agents running workflows (plan -> code fan-out -> review + test
  -> human gate -> deploy). It never sleeps and does no I/O; it turns calls into
  events. Same seed, same calls, same clock values: the same events, ids included.
  Its helpers: ``world`` (the objects), ``roster`` (who is free), ``planning``
  (workflows), ``narration`` (what agents say), ``emitter`` (events and ids).
* :class:`DemoAdapter`: paces a Simulation in real time and feeds it the manager's
  decisions; a restart is a new run with fresh ids.
"""

from swarmdeck.adapters.demo.adapter import DemoAdapter, DemoOptions
from swarmdeck.adapters.demo.simulation import Simulation
from swarmdeck.adapters.demo.world import UnknownEscalation

__all__ = ["DemoAdapter", "DemoOptions", "Simulation", "UnknownEscalation"]
