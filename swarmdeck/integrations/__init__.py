"""Shared, UI-free logic of the real agent integrations (Claude Code, MCP).

Two paths carry an escalation to a manager and the decision back:

* in the collector (the ``claude-code`` and ``mcp`` adapters): events go to the
  supervisor's writer and the decision comes back through ``deliver()``;
* in a standalone process (``swarmdeck hook claude-code``, ``swarmdeck mcp`` over
  stdio): the process appends to the store itself and polls it for the decision.

:mod:`swarmdeck.integrations.bridge` hides the difference behind one interface,
so each integration's translation is written once.
"""
