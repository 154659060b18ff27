"""The real app in a real terminal: tmux at 120x40 and 45x40, keys sent, screen read back;
and a pty hang-up (SSH drop) that must end the app cleanly."""

from __future__ import annotations

import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

TMUX = shutil.which("tmux")


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWARMDECK_", "TMUX"))}
    config = tmp_path / "config.toml"
    config.write_text("")
    env.update(
        SWARMDECK_CONFIG=str(config),
        SWARMDECK_DEMO__ENABLED="false",  # the fixed swarm only: what the screen shows is known
        XDG_CONFIG_HOME=str(tmp_path / "xdg"),
        TERM="xterm-256color",
        LANG="C.UTF-8",
        LC_ALL="C.UTF-8",
        TEXTUAL_ANIMATIONS="none",
    )
    env.pop("NO_COLOR", None)
    return env


class Tmux:
    def __init__(self, socket: str, env: dict[str, str]) -> None:
        self.socket = socket
        self.env = env

    def run(self, *args: str) -> str:
        assert TMUX is not None
        out = subprocess.run(
            [TMUX, "-L", self.socket, "-f", os.devnull, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return out.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "app")

    def keys(self, *keys: str) -> None:
        # One key per write: ESC glued to the next key reads as alt+key, as in any terminal.
        for key in keys:
            self.run("send-keys", "-t", "app", key)
            # A busy machine reads ESC and the next key in one go (alt+key): give it time.
            time.sleep(0.4 if key == "Escape" else 0.02)

    def wait_gone(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text not in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never went away; screen was:\n{screen}")

    def wait_for(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; screen was:\n{screen}")


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    if TMUX is None:
        pytest.skip("tmux is not installed")
    t = Tmux(f"swarmdeck-test-{os.getpid()}-{time.monotonic_ns()}", _env(tmp_path))
    yield t
    t.run("kill-server")


def _start(tmux: Tmux, db: Path, width: int, tmp_path: Path, *flags: str) -> Path:
    rc = tmp_path / "rc"
    command = " ".join([sys.executable, "-m", "swarmdeck.cli", "--db", str(db), *flags])
    tmux.run(
        "new-session", "-d", "-s", "app", "-x", str(width), "-y", "40",
        f"{command}; echo $? > {rc}; sleep 60",
    )  # fmt: skip
    tmux.run("set-option", "-s", "escape-time", "0")
    return rc


def _wait_file(path: Path, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.1)
    raise AssertionError(f"{path} was never written")


def test_wide_terminal(tmux: Tmux, db_path: Path, tmp_path: Path) -> None:
    rc = _start(tmux, db_path, 120, tmp_path)
    tmux.wait_for("Secret in output of coder-3")
    screen = tmux.wait_for("collector: this process")
    lines = screen.splitlines()
    assert len(lines) == 40 and max(len(line) for line in lines) <= 120
    assert "[2] Inbox 5 open" in screen and "[1] Swarm 12" in screen
    assert "[3] Workflow" in screen
    assert "collector: this process" in screen
    assert "[bold red]pwned[/]" in screen  # agent markup shown literally
    assert "╭" in screen and "▶" in screen  # the graph, in box-drawing characters
    # Filter the swarm, open details, come back, ask for help, quit through command mode.
    tmux.keys("1", "/", "state:blocked", "Enter")
    tmux.wait_for("s Sort")  # the prompt closed: the footer shows the Swarm's keys again
    screen = tmux.wait_for("Swarm 2/12")
    swarm = "\n".join(line[60:] for line in screen.splitlines())  # the right-hand pane
    assert "tester-1" in swarm and "coder-1 " not in swarm
    tmux.keys("Escape", "2", "Enter")
    screen = tmux.wait_for("History")
    assert "Secret in output of coder-3" in screen
    tmux.keys("Escape", "?")
    tmux.wait_for("inbox.approve")
    tmux.keys("Escape", ":", "quit", "Enter")
    assert _wait_file(rc) == "0"


def test_side_panel(tmux: Tmux, db_path: Path, tmp_path: Path) -> None:
    rc = _start(tmux, db_path, 45, tmp_path)
    screen = tmux.wait_for("Secret in output")
    lines = screen.splitlines()
    assert max(len(line) for line in lines) <= 45
    inbox = next(i for i, line in enumerate(lines) if "Inbox" in line)
    swarm = next(i for i, line in enumerate(lines) if "Swarm" in line)
    assert inbox < swarm  # stacked, Inbox first
    # Approve the top (critical) item from the side panel: a second `a` confirms it.
    tmux.keys("a")
    tmux.wait_for("approve this?")
    tmux.keys("a")
    screen = tmux.wait_for("Inbox 4 open")
    assert "approved: " in screen  # said on the status line, no toast over the list
    tmux.keys("q")
    assert _wait_file(rc) == "0"


def test_hangup_exits_cleanly(db_path: Path, tmp_path: Path) -> None:
    """Closing the terminal (SSH drop) ends the app with status 0 and nothing left running."""
    env = _env(tmp_path)
    pid, fd = pty.fork()
    if pid == 0:  # child: the app on the pty
        os.execve(
            sys.executable, [sys.executable, "-m", "swarmdeck.cli", "--db", str(db_path)], env
        )
    try:
        os.set_blocking(fd, False)
        seen = b""
        deadline = time.monotonic() + 15
        while b"Inbox" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(fd, 65536)
                except OSError:
                    break
        assert b"Inbox" in seen
    finally:
        os.close(fd)  # the terminal goes away: the kernel sends SIGHUP
    deadline = time.monotonic() + 10
    status = None
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise AssertionError("the app kept running after its terminal went away")
    assert status is not None
    assert os.waitstatus_to_exitcode(status) == 0


def test_command_typed_in_one_burst(tmux: Tmux, db_path: Path, tmp_path: Path) -> None:
    """Over SSH keystrokes arrive together and pastes always do: ':audit' + Enter written
    at once must run the command, not close an empty command line."""
    rc = _start(tmux, db_path, 120, tmp_path)
    tmux.wait_for("Secret in output of coder-3")
    tmux.run("send-keys", "-t", "app", ":audit", "Enter")  # one write
    tmux.wait_for("Audit")
    tmux.keys("Escape")
    tmux.run("send-keys", "-t", "app", ":quit", "Enter")
    assert _wait_file(rc) == "0"


def test_answer_a_question_then_jump_to_the_next(tmux: Tmux, db_path: Path, tmp_path: Path) -> None:
    """As a manager would: the questions only, n to the first, A, a number key; then the
    whole inbox again and n to what waits next. The answer is in the store, as the agent
    spelled the option."""
    import sqlite3

    rc = _start(tmux, db_path, 120, tmp_path)
    tmux.wait_for("Which database for the cache?")
    tmux.keys("/", "kind:question", "Enter")
    tmux.wait_for("Inbox 5 open · /kind:question")
    tmux.keys("n")
    tmux.wait_for("1 of 1 waiting")
    tmux.keys("A")
    screen = tmux.wait_for("1-3 or enter: answer")
    assert "Redis" in screen and "Memcached" in screen and "Postgres" in screen
    tmux.keys("2")
    tmux.wait_for("answered 'Memcached'")
    tmux.keys("Escape")  # the filter off: everything that waits
    tmux.wait_for("Inbox 4 open ─")
    tmux.keys("n")
    tmux.wait_for("of 4 waiting:")
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "SELECT action, answer, actor FROM decisions WHERE escalation = 'esc-db'"
        ).fetchall()
    assert [(a, ans) for a, ans, _actor in rows] == [("answer", "Memcached")]
    tmux.keys(":", "quit", "Enter")
    assert _wait_file(rc) == "0"


def test_tab_in_the_prompt_completes_and_types_no_decision(
    tmux: Tmux, db_path: Path, tmp_path: Path
) -> None:
    """Typing "rel" after Tab used to land on a pane and fire `r` (a retry)."""
    import sqlite3

    rc = _start(tmux, db_path, 120, tmp_path)
    tmux.wait_for("Which database for the cache?")
    tmux.keys(":", "wor", "Tab")
    tmux.wait_for(":workflow ")
    tmux.keys("Tab", "r", "e", "l", "a")
    screen = tmux.wait_for(":workflow rela")
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 1  # esc-old
    assert "Inbox 5 open" in screen
    tmux.keys("Escape")
    tmux.wait_gone(":workflow rela")  # closed before the next prompt opens
    tmux.keys(":", "quit", "Enter")
    assert _wait_file(rc) == "0"
