"""Fixtures of the fleet tests: a clean environment for the real commands they run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment for subprocesses: no user config, data under tmp_path."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("SWARMDECK_")}
    out["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    out["XDG_DATA_HOME"] = str(tmp_path / "data")
    out["HOME"] = str(tmp_path / "home")
    return out
