"""The adapter contract (tests/adapters_contract.py) applied to every built-in adapter.

To put another adapter under the contract, append one ``AdapterCase`` to ``CASES``:
its options (prepared in a temporary directory) and, if it only emits when fed, a
``stimulate`` function that feeds it one event and one ``escalation.raised``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from swarmdeck.adapters.base import Adapter
from swarmdeck.adapters.demo import DemoAdapter
from swarmdeck.adapters.jsonl import JsonlAdapter
from swarmdeck.store.db import Store
from tests.adapters_contract import (
    AdapterCase,
    check_cancel,
    check_deliver,
    check_events,
    check_metadata,
    check_options,
)


def _jsonl_options(tmp: Path) -> dict[str, object]:
    path = tmp / "events.jsonl"
    ts = datetime(2026, 11, 24, 1, 0, tzinfo=UTC).isoformat()
    lines = [
        {"id": "1", "ts": ts, "source": "bots", "kind": "agent.seen", "agent": "bot-1",
         "data": {"name": "bot-1", "role": "coder"}},
        {"id": "2", "ts": ts, "source": "bots", "kind": "escalation.raised", "agent": "bot-1",
         "data": {"id": "bots-E1", "kind": "approval", "title": "Push to main?"}},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return {"path": str(path), "poll_interval": 0.02}


def _jsonl_delivered(tmp: Path, adapter: Adapter) -> int:
    decisions = tmp / "decisions.jsonl"
    return len(decisions.read_text().splitlines()) if decisions.exists() else 0


def _demo_delivered(tmp: Path, adapter: Adapter) -> int:
    assert isinstance(adapter, DemoAdapter)
    return adapter.reactions


CASES = [
    AdapterCase(
        id="demo",
        adapter=DemoAdapter,
        options=lambda tmp: {"seed": 3, "agents": 12, "rate": 200.0},
        delivered_count=_demo_delivered,
    ),
    AdapterCase(
        id="jsonl",
        adapter=JsonlAdapter,
        options=_jsonl_options,
        delivered_count=_jsonl_delivered,
    ),
]


@pytest.fixture(params=CASES, ids=[c.id for c in CASES])
def case(request: pytest.FixtureRequest) -> AdapterCase:
    return request.param  # type: ignore[no-any-return]


def test_options_forbid_unknown_keys(case: AdapterCase, tmp_path: Path) -> None:
    check_options(case, tmp_path)


def test_metadata_and_entry_point(case: AdapterCase) -> None:
    check_metadata(case)


async def test_events_are_valid_and_stored(case: AdapterCase, tmp_path: Path, store: Store) -> None:
    await check_events(case, tmp_path, store)


async def test_deliver_is_idempotent(case: AdapterCase, tmp_path: Path, store: Store) -> None:
    await check_deliver(case, tmp_path, store)


async def test_cancel_is_clean(case: AdapterCase, tmp_path: Path, store: Store) -> None:
    await check_cancel(case, tmp_path, store)
