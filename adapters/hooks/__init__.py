"""Agent CLIs' hook protocols: one module per vendor, one shared way to wait for the manager.

A coding agent's hook (Claude Code today) hands swarmdeck a tool call and waits for the answer.
Two paths carry that escalation to a manager and the decision back:

* in the collector (the ``claude-code`` and ``mcp`` adapters): events go to the supervisor's
  writer and the decision comes back through ``deliver()``;
* in a standalone process (``swarmdeck hook claude-code``, ``swarmdeck mcp`` over stdio): the
  process appends to the store itself and polls it for the decision.

:mod:`swarmdeck.adapters.bridge` hides the difference behind one interface, so each vendor's
module here only translates its payloads and answers.
"""
