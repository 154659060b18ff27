"""The example adapter (examples/swarmdeck-lines), loaded like any plugin, passes the contract.

It is installed as its own distribution (``make test`` installs it) and reached only
through its ``swarmdeck.adapters`` entry point, the way a third party's adapter is: if
this passes, the example a reader copies works, and so does the route it takes into
swarmdeck.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from swarmdeck.adapters.base import Adapter
from swarmdeck.adapters.registry import AdapterNotFound, load_adapter
from swarmdeck.testing import AdapterContract

EXAMPLE = Path(__file__).parent.parent / "examples" / "swarmdeck-lines"


def _installed_example() -> type[Adapter]:
    try:
        return load_adapter("lines")
    except AdapterNotFound:
        hint = f"the example adapter is not installed: pip install -e {EXAMPLE} (make test does)"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            raise AssertionError(f"{hint}; CI must run it") from None
        pytest.skip(hint, allow_module_level=True)


class TestLinesAdapterContract(AdapterContract):
    adapter = _installed_example()

    def options(self, tmp_path: Path) -> dict[str, Any]:
        (tmp_path / "agent.log").write_text("cloned the repo\nran the tests\npartial")
        return {"path": str(tmp_path / "agent.log"), "agent": "bot-1", "poll_interval": 0.02}

    def add_input(self, tmp_path: Path) -> None:
        with (tmp_path / "agent.log").open("a") as f:
            f.write(" line, finished while swarmdeck was down\n")


def test_lines_comes_from_the_example_distribution() -> None:
    """Not a stale copy: the entry point belongs to swarmdeck-lines, installed from here."""
    [entry_point] = entry_points(group="swarmdeck.adapters", name="lines")
    assert entry_point.dist is not None
    assert entry_point.dist.name == "swarmdeck-lines"
    module = sys.modules[_installed_example().__module__]
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().is_relative_to(EXAMPLE.resolve())
