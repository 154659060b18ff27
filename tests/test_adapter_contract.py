"""The shipped adapter contract (swarmdeck.testing) applied to the built-in demo and jsonl.

Built-ins are tested exactly as a third party's adapter would be: one
``AdapterContract`` subclass each, the class loaded through its entry point.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from swarmdeck.adapters.base import Adapter
from swarmdeck.adapters.demo import DemoAdapter
from swarmdeck.adapters.registry import load_adapter
from swarmdeck.testing import AdapterContract

TS = datetime(2026, 11, 24, 1, 0, tzinfo=UTC).isoformat()


def _line(**event: Any) -> str:
    return json.dumps({"ts": TS, "source": "bots", "agent": "bot-1", **event}) + "\n"


class TestDemoContract(AdapterContract):
    adapter = load_adapter("demo")

    def options(self, tmp_path: Path) -> dict[str, Any]:
        return {"seed": 3, "agents": 12, "rate": 200.0}

    def delivered_count(self, tmp_path: Path, adapter: Adapter) -> int:
        assert isinstance(adapter, DemoAdapter)
        return adapter.reactions


class TestJsonlContract(AdapterContract):
    adapter = load_adapter("jsonl")

    def options(self, tmp_path: Path) -> dict[str, Any]:
        path = tmp_path / "events.jsonl"
        path.write_text(
            _line(id="1", kind="agent.seen", data={"name": "bot-1", "role": "coder"})
            + _line(
                id="2",
                kind="escalation.raised",
                data={"id": "bots-E1", "kind": "approval", "title": "Push to main?"},
            )
        )
        return {"path": str(path), "poll_interval": 0.02}

    def delivered_count(self, tmp_path: Path, adapter: Adapter) -> int:
        decisions = tmp_path / "decisions.jsonl"
        return len(decisions.read_text().splitlines()) if decisions.exists() else 0

    def add_input(self, tmp_path: Path) -> None:
        with (tmp_path / "events.jsonl").open("a") as f:
            f.write(_line(id="3", kind="log", data={"text": "written while swarmdeck was down"}))
