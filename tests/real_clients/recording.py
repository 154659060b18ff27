"""What the real-client tests share: finding a CLI, a recording hook, checking recorded payloads."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.real_clients.clients import INSTALL_COMMAND, PACKAGES, PINS, client_binary

FIXTURES = Path(__file__).parent / "fixtures"
RECORDING_HOOK = Path(__file__).parent / "recording_hook.py"
#: Set to 1 to rewrite fixtures/ from what the CLIs send (then review the diff).
RECORD = os.environ.get("SWARMDECK_RECORD_FIXTURES") == "1"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_client(name: str) -> Path:
    binary = client_binary(name)
    if binary is not None:
        return binary
    package = PACKAGES[name]
    message = f"{name} ({package}@{PINS[package]}) is not installed; run: {INSTALL_COMMAND}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def recording_hook(log: Path, *, stdout: Any = None, stderr: str = "", exit: int = 0,
                   sleep: float = 0.0) -> str:  # fmt: skip
    """The shell command of a trivial hook that records its payload and answers as given."""
    import shlex

    parts = [sys.executable, str(RECORDING_HOOK), str(log)]
    if stdout is not None:
        parts += ["--stdout", stdout if isinstance(stdout, str) else json.dumps(stdout)]
    if stderr:
        parts += ["--stderr", stderr]
    if exit:
        parts += ["--exit", str(exit)]
    if sleep:
        parts += ["--sleep", str(sleep)]
    return " ".join(shlex.quote(p) for p in parts)


def recorded(log: Path) -> list[dict[str, Any]]:
    """Every payload the recording hook got, in the order the CLI sent them."""
    files = sorted(log.glob("*.json")) if log.exists() else []
    return [json.loads(f.read_text(encoding="utf-8")) for f in files]


def recorded_events(log: Path) -> list[str]:
    return [str(p.get("hook_event_name")) for p in recorded(log)]


def scrub(value: Any, roots: dict[str, str]) -> Any:
    """Replace temporary paths with stable placeholders, for a fixture file."""
    if isinstance(value, str):
        for real, placeholder in roots.items():
            value = value.replace(real, placeholder)
        return value
    if isinstance(value, list):
        return [scrub(v, roots) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v, roots) for k, v in value.items()}
    return value


def shape(value: Any) -> Any:
    """The keys and value types of a payload (what a parser relies on), not its values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def check_fixtures(vendor: str, payloads: list[dict[str, Any]], roots: dict[str, str]) -> None:
    """One recorded payload per event type lives in fixtures/<vendor>/<Event>.json.

    The suite re-records them on every run and fails when a CLI's payload changed shape
    (a key added, dropped or retyped): then run with SWARMDECK_RECORD_FIXTURES=1 and
    review what the new version sends.
    """
    folder = FIXTURES / vendor
    firsts: dict[str, dict[str, Any]] = {}
    for payload in payloads:
        firsts.setdefault(str(payload.get("hook_event_name")), payload)
    for event, payload in firsts.items():
        path = folder / f"{event}.json"
        clean = scrub(payload, roots)
        if RECORD:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(clean, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            continue
        assert path.exists(), f"new {vendor} event {event}: run with SWARMDECK_RECORD_FIXTURES=1"
        stored = json.loads(path.read_text(encoding="utf-8"))
        assert shape(clean) == shape(stored), (
            f"{vendor} {event} payload changed shape; re-record and review:\n"
            f"now: {json.dumps(clean, sort_keys=True)}\n"
            f"fixture: {json.dumps(stored, sort_keys=True)}"
        )
