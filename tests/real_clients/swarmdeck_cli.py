"""swarmdeck as a manager uses it, from outside: its real CLI on a temporary database.

The tests talk to swarmdeck only through ``swarmdeck install``, ``ls --json`` and
``decide``, never through its Python API: the harness must keep working while the
store, the hook and the CLI are restructured underneath, and it proves the path a
manager really takes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.real_clients.clients import Running, client_binary

SWARMDECK = Path(sys.executable).parent / "swarmdeck"


class Bounded(AssertionError):
    """A bounded wait ran out; the message says what was awaited and what was seen."""


@dataclass
class Swarmdeck:
    """One temporary swarmdeck: a database and a config file of its own."""

    db: Path
    config: Path
    env: dict[str, str]
    last_install: subprocess.CompletedProcess[str] | None = None

    def write_config(self, *, hook_timeout: float = 120.0, extra: str = "") -> None:
        """``[hooks] timeout``: how long ``swarmdeck hook`` waits for a manager."""
        self.config.write_text(f"[hooks]\ntimeout = {hook_timeout}\n{extra}", encoding="utf-8")

    def run(self, *args: str, check: bool = True, timeout: float = 60.0) -> Any:
        proc = subprocess.run(
            [str(SWARMDECK), "--db", str(self.db), "--config", str(self.config), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"swarmdeck {' '.join(args)} exited {proc.returncode}\n{proc.stdout}{proc.stderr}"
            )
        return proc

    # ------------------------------------------------------------------ set-up

    def install_claude_code(
        self, project: Path, *, timeout: int | None = None, matcher: str | None = None
    ) -> dict[str, Any]:
        """``swarmdeck install claude-code --project DIR``: today's hook configuration,
        checked against the pinned Claude Code's version (``--claude``)."""
        args = ["install", "claude-code", "--project", str(project)]
        claude = client_binary("claude")
        if claude is not None:
            args += ["--claude", str(claude)]
        if timeout is not None:
            args += ["--timeout", str(timeout)]
        if matcher is not None:
            args += ["--matcher", matcher]
        self.last_install = self.run(*args)
        settings: dict[str, Any] = json.loads(
            (project / ".claude" / "settings.json").read_text(encoding="utf-8")
        )
        return settings

    def mcp_command(self, *extra: str) -> list[str]:
        """``swarmdeck mcp`` on this database, for an MCP client's server list."""
        return [str(SWARMDECK), "--db", str(self.db), "--config", str(self.config), "mcp", *extra]

    # ------------------------------------------------------------------ reading

    def ls(self, what: str, state: str | None = None) -> list[dict[str, Any]]:
        args = ["ls", what, "--json"]
        if state is not None:
            args += ["--state", state]
        if not self.db.exists():
            return []
        rows: list[dict[str, Any]] = json.loads(self.run(*args).stdout or "[]")
        return rows

    def escalations(self, state: str | None = None) -> list[dict[str, Any]]:
        return self.ls("escalations", state)

    def escalation(self, escalation_id: str) -> dict[str, Any]:
        for row in self.escalations():
            if row["id"] == escalation_id:
                return row
        raise AssertionError(f"no escalation {escalation_id}")

    def agents(self) -> list[dict[str, Any]]:
        return self.ls("agents")

    def wait_for(
        self,
        what: str,
        probe: Callable[[], Any],
        *,
        timeout: float,
        client: Running | None = None,
        every: float = 0.25,
    ) -> Any:
        """Poll ``probe`` until truthy; fail at ``timeout`` or as soon as ``client`` exits."""
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if client is not None and not client.alive():
                done = client.finish(5)
                raise Bounded(f"the client exited before {what}:\n{done.explain()}")
            if time.monotonic() > deadline:
                seen = self.escalations()
                raise Bounded(f"no {what} within {timeout}s; escalations: {seen}")
            time.sleep(every)

    def wait_for_escalation(
        self,
        *,
        client: Running | None = None,
        timeout: float = 30.0,
        count: int = 1,
        state: str | None = "open",
    ) -> dict[str, Any]:
        """The newest escalation in ``state`` (None: any), once ``count`` are.

        Pass ``state=None`` where the escalation may close before a poll sees it open
        (a short timeout on either side), so a slow poll cannot miss it.
        """

        def probe() -> list[dict[str, Any]] | None:
            found = self.escalations(state)
            return found if len(found) >= count else None

        what = f"{count} {state or 'raised'} escalation(s)"
        rows: list[dict[str, Any]] = self.wait_for(what, probe, timeout=timeout, client=client)
        return max(rows, key=lambda r: r["raised_seq"])

    def wait_until_closed(self, escalation_id: str, *, timeout: float = 30.0) -> dict[str, Any]:
        """The escalation once it is no longer open (decided or withdrawn)."""

        def probe() -> dict[str, Any] | None:
            row = self.escalation(escalation_id)
            return row if row["state"] != "open" else None

        row: dict[str, Any] = self.wait_for(
            f"{escalation_id} closed", probe, timeout=timeout, every=0.5
        )
        return row

    # ------------------------------------------------------------------ deciding

    def decide(
        self,
        escalation_id: str,
        action: str,
        *,
        reason: str | None = None,
        to: str | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        args = ["decide", escalation_id, action]
        if reason is not None:
            args += ["--reason", reason]
        if to is not None:
            args += ["--to", to]
        result: subprocess.CompletedProcess[str] = self.run(*args, check=check)
        return result
