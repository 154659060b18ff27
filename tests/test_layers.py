"""Layering rules: store/, adapters/ and the adapter test kit never import Textual; listing
adapters imports none."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from swarmdeck.adapters.registry import adapter_names


def _imports_in_fresh_interpreter(code: str) -> set[str]:
    probe = textwrap.dedent(code) + "\nimport sys\nprint('\\n'.join(sorted(sys.modules)))\n"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return set(out.split())


@pytest.mark.parametrize(
    "code",
    [
        "import swarmdeck.store.db, swarmdeck.store.events, swarmdeck.store.ingest,"
        " swarmdeck.store.actions, swarmdeck.store.text",
        "import swarmdeck.adapters.base, swarmdeck.adapters.registry,"
        " swarmdeck.adapters.supervisor",
        "from swarmdeck.adapters.registry import load_all; load_all()",
        "import swarmdeck.collector, swarmdeck.config",
        # The adapter test kit lands in third parties' test suites: no TUI there.
        "import swarmdeck.testing",
    ],
)
def test_core_layers_do_not_import_textual(code: str) -> None:
    modules = _imports_in_fresh_interpreter(code)
    assert not {m for m in modules if m == "textual" or m.startswith("textual.")}, code


def test_listing_adapter_names_imports_no_plugin() -> None:
    modules = _imports_in_fresh_interpreter(
        "from swarmdeck.adapters.registry import adapter_names; adapter_names()"
    )
    assert not {
        m
        for m in modules
        if m.startswith("swarmdeck.adapters.")
        and m not in {"swarmdeck.adapters.base", "swarmdeck.adapters.registry"}
    }


def test_builtins_are_registered_like_plugins() -> None:
    assert {"demo", "jsonl", "http", "claude-code", "mcp"} <= set(adapter_names())


def test_cli_listing_commands_do_not_import_textual() -> None:
    modules = _imports_in_fresh_interpreter(
        "from swarmdeck.cli import main\n"
        "import sys\n"
        "sys.argv = ['swarmdeck', 'schema']\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['schema'])\n"
    )
    assert "textual" not in modules


def test_the_tui_imports_neither_the_collector_nor_the_cli() -> None:
    """The shell hands the App a collector link; the TUI never reaches up for one."""
    modules = _imports_in_fresh_interpreter(
        "import swarmdeck.tui.app, swarmdeck.tui.palette, swarmdeck.tui.screens.help"
    )
    assert "swarmdeck.tui.app" in modules
    above = {m for m in modules if m == "swarmdeck.collector" or m.startswith("swarmdeck.cli")}
    assert not above
