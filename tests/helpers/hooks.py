"""Recorded Claude Code hook payloads and the ``swarmdeck`` command installed beside pytest."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from swarmdeck.adapters.hooks.claude_code import PROTOCOL as CLAUDE_CODE
from swarmdeck.adapters.hooks.core import HookConfig, HookContext
from swarmdeck.adapters.hooks.translate import Translator

FIXTURES = Path(__file__).resolve().parents[1] / "integrations" / "fixtures"


SWARMDECK = Path(sys.executable).parent / "swarmdeck"


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def claude_translator(raw: str | bytes, agent: str, source: str) -> Translator:
    """What the Claude Code hook makes of one payload: its events, as the hook emits them."""
    data = raw.encode() if isinstance(raw, str) else raw
    call = CLAUDE_CODE.read(data, HookConfig(), HookContext(call_id="test-call"))
    return Translator(call, agent, source, CLAUDE_CODE.title)
