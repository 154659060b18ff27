"""Health says which collector leads what: ``swarmdeck adapters`` and the TUI's adapter view."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from swarmdeck.store.db import Store
from swarmdeck.tui.screens.details import adapters_view


async def _two_leases(store: Store) -> None:
    assert await store.try_lead("feed", "laptop:4242:abc123", 60.0) == 1
    await store.set_health("feed", "jsonl", "running", detail="tailing a.jsonl")
    assert await store.try_lead("policy", "cloud-1:77:def456", 60.0) == 1
    assert await store.try_lead("old", "gone:1:000000", 60.0) == 1
    await store.release_lead("old", "gone:1:000000")
    await store.set_health("old", "jsonl", "stopped", detail="collector stopped")


async def test_the_adapter_view_names_the_leading_collector(store: Store) -> None:
    await _two_leases(store)
    console = Console(width=160, record=True, color_system=None)
    console.print(await adapters_view(store, time.time()))
    text = console.export_text()
    assert "led by" in text
    [feed] = [ln for ln in text.splitlines() if ln.lstrip().startswith("feed")]
    assert "laptop:4242" in feed and "abc123" not in feed
    [old] = [ln for ln in text.splitlines() if ln.lstrip().startswith("old")]
    assert "free (was gone:1)" in old


async def test_swarmdeck_adapters_lists_leaders_of_instances_and_services(
    store: Store, db_path: Path, tmp_path: Path
) -> None:
    await _two_leases(store)
    config = tmp_path / "config.toml"
    config.write_text('[[adapters]]\nname = "feed"\ntype = "jsonl"\npath = "a.jsonl"\n')
    args = [sys.executable, "-m", "swarmdeck", "--db", str(db_path), "--config", str(config)]
    listing = json.loads(
        subprocess.run(
            [*args, "adapters", "--json"], capture_output=True, text=True, check=True
        ).stdout
    )
    [feed] = listing["instances"]
    assert (feed["name"], feed["state"], feed["leader"], feed["epoch"]) == (
        "feed", "running", "laptop:4242:abc123", 1
    )  # fmt: skip
    [policy] = listing["services"]
    assert (policy["name"], policy["leader"]) == ("policy", "cloud-1:77:def456")
    table = subprocess.run([*args, "adapters"], capture_output=True, text=True, check=True).stdout
    assert "LED BY" in table and "laptop:4242:abc123" in table and "s left" in table
