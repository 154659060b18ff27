"""Item 7 (hangs), the hook's side: a stdin that never ends does not keep the hook alive.

The CLIs write the hook payload and close stdin at once. ``hook claude-code`` with an open,
silent stdin (a wrapper that never closes it) waited for ever; it now waits at most
``STDIN_TIMEOUT`` and answers deny, whatever ``hooks.default`` says.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from swarmdeck.cli import hook_fast


def test_a_silent_stdin_is_given_up_within_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hook_fast, "STDIN_TIMEOUT", 0.3)
    reader, writer = os.pipe()
    try:
        with os.fdopen(reader, "rb", closefd=False) as stream:
            start = time.monotonic()
            assert hook_fast.read_payload(stream, 1024) is None
            assert time.monotonic() - start < 5
            os.write(writer, b'{"ok": 1}')
            os.close(writer)
            writer = -1
            assert hook_fast.read_payload(stream, 1024) == b'{"ok": 1}'  # alarm cleared
    finally:
        os.close(reader)
        if writer >= 0:
            os.close(writer)


def test_the_hook_process_answers_deny_on_a_silent_stdin(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    # The real entry path in its own process, with the bound shortened (as shipped: 30 s).
    config = tmp_path / "config.toml"
    config.write_text('[hooks]\ndefault = "allow"\n')
    script = (
        "import sys; from swarmdeck.cli import hook_fast as h; h.STDIN_TIMEOUT = 0.5; "
        f"h.run(h.HookArgs('claude-code', db={str(tmp_path / 'db.sqlite')!r}, "
        f"config={str(config)!r}))"
    )
    reader, writer = os.pipe()  # the write end stays open and silent
    try:
        proc = subprocess.run(
            [sys.executable, "-c", script], stdin=reader, capture_output=True, env=clean_env,
            timeout=60, check=False,
        )  # fmt: skip
    finally:
        os.close(reader)
        os.close(writer)
    assert proc.returncode == hook_fast.DENY_EXIT, proc
    assert b"no hook payload on stdin within 0.5s" in proc.stderr
    assert b"allow" not in proc.stdout
