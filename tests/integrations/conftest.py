"""Shared fixtures of the integration tests: real store files, real subprocesses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: no user config, data under tmp_path."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("SWARMDECK_")}
    out["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    out["XDG_DATA_HOME"] = str(tmp_path / "data")
    out["HOME"] = str(tmp_path / "home")
    return out
