"""Recorded Claude Code hook payloads and the ``swarmdeck`` command installed beside pytest."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "integrations" / "fixtures"


SWARMDECK = Path(sys.executable).parent / "swarmdeck"


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data
