"""What tests share, by job (fixtures stay in conftest files; helpers live here).

* :mod:`tests.helpers.events`: event builders (``ev``, ``raise_escalation``), re-exported here.
* :mod:`tests.helpers.clock`: a clock tests move by hand, and events stamped with it.
* :mod:`tests.helpers.history`: a recorded history for the dry run and the metrics.
* :mod:`tests.helpers.tui`: settings and an app for TUI tests, at a frozen time.
* :mod:`tests.helpers.waiting`: bounded waits for what another process writes.
* :mod:`tests.helpers.hooks`: recorded hook payloads and the installed ``swarmdeck`` command.
"""

from tests.helpers.events import BASE, ev, raise_escalation

__all__ = ["BASE", "ev", "raise_escalation"]
