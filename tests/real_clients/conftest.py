"""Fixtures of the real-client suite: the CLI binaries, a fake model API, a temporary
swarmdeck, a private HOME and project directory per test.

A CLI that is not installed is a skip locally (with the command that installs it) and
a failure in CI (``CI=true``): CI installs them in ``.ci/run``, so a missing one there
means the install broke, and a skip would hide it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.real_clients.fake_apis import AnthropicFake, GeminiFake, ResponsesFake, Script
from tests.real_clients.recording import require_client
from tests.real_clients.swarmdeck_cli import Swarmdeck


@pytest.fixture
def claude_bin() -> Path:
    return require_client("claude")


@pytest.fixture
def codex_bin() -> Path:
    return require_client("codex")


@pytest.fixture
def gemini_bin() -> Path:
    return require_client("gemini")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The agent's working directory (its name becomes the agent's name)."""
    path = tmp_path / "project"
    path.mkdir()
    return path


@pytest.fixture
def client_home(tmp_path: Path) -> Path:
    """The CLI's HOME: its user settings, sessions and caches live here, not in ours."""
    path = tmp_path / "client-home"
    path.mkdir()
    return path


@pytest.fixture
def marker(project: Path) -> Path:
    """The file the scripted shell call touches: it exists iff the command ran."""
    return project / "ran"


@pytest.fixture
def script(marker: Path) -> Script:
    return Script(command=f"touch {marker}")


@pytest.fixture
def sd(tmp_path: Path) -> Swarmdeck:
    """A swarmdeck of this test: its own database and config (hook wait 120 s)."""
    swarmdeck = Swarmdeck(
        db=tmp_path / "swarmdeck.db", config=tmp_path / "swarmdeck.toml", env=dict(os.environ)
    )
    swarmdeck.write_config()
    return swarmdeck


@pytest.fixture
def anthropic(script: Script) -> Iterator[AnthropicFake]:
    with AnthropicFake(script) as fake:
        yield fake


@pytest.fixture
def responses_api(script: Script) -> Iterator[ResponsesFake]:
    with ResponsesFake(script) as fake:
        yield fake


@pytest.fixture
def gemini_api(script: Script) -> Iterator[GeminiFake]:
    with GeminiFake(script) as fake:
        yield fake


@pytest.fixture
def hook_log(tmp_path: Path) -> Path:
    """Where the recording hook writes each payload it receives."""
    return tmp_path / "hook-payloads"
