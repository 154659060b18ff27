"""Item 5: no terminal injection through the CLI.

``reveal`` printed the agent name and task id raw, and ``audit export --format csv`` the
escalation id: in tmux that set the pane title and wrote the clipboard (OSC 52). ``--json``
and jsonl outputs carried raw C1, bidi and zero-width characters.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.doors.conftest import cli, event_line, store_as_ingest, unchecked

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"
TITLE = "\x1b]0;pwned\x07"
HIDDEN = "\x85\u202e\u200b\u2066"  # C1 NEL, bidi override, zero width, bidi isolate
SECRET = "ghp_R8fXq2LmZ0aB3cD4eF5gH6iJ7kL8mN9oP0qR"


def raw_controls(text: str) -> list[str]:
    """Every character a terminal would act on or hide, as found in ``text``."""
    return [
        c for c in text
        if (ord(c) < 0x20 and c not in "\n\r\t") or 0x7F <= ord(c) < 0xA0
        or c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200f\ufeff"
    ]  # fmt: skip


def test_reveal_and_audit_exports_print_nothing_a_terminal_acts_on(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    db = tmp_path / "db.sqlite"
    agent = f"coder{OSC52}{HIDDEN}"
    task = f"T-1{TITLE}"
    lines = event_line(
        id="leak", kind="log", agent=agent, task=task,
        data={"level": "info", "text": f"token={SECRET}"},
    )  # fmt: skip
    # Validation refuses such names and ids at the door now (one line, to the dead letters)...
    refused = cli("ingest", "-", "--db", db, env=clean_env, stdin=lines)
    assert refused.returncode == 1 and b"U+001B" in refused.stderr, refused.stderr
    assert not raw_controls(refused.stderr.decode())
    # ...and what an older version stored with them is still shown safely.
    store_as_ingest(db, [
        unchecked("log", id="leak", agent=agent, task=task,
                  data={"level": "info", "text": f"token={SECRET}"}),
        unchecked("escalation.raised", id="ask", agent=agent,
                  data={"id": f"E{TITLE}{HIDDEN}", "kind": "approval",
                        "title": f"deploy {HIDDEN}"}),
    ])  # fmt: skip
    listing = cli("ls", "escalations", "--json", "--db", db, env=clean_env)
    out = listing.stdout.decode()
    assert not raw_controls(out), raw_controls(out)
    escalations = json.loads(out)
    ids = {e["kind"]: e["id"] for e in escalations}
    assert ids["approval"] == f"E{TITLE}{HIDDEN}"  # escaped, not lost: the JSON is exact
    decided = cli("decide", ids["approval"], "approve", "--db", db, env=clean_env)
    assert decided.returncode == 0, decided.stderr
    assert not raw_controls(decided.stdout.decode())

    revealed = cli("reveal", ids["guardrail"], "--reason", "rotate", "--db", db, env=clean_env)
    assert revealed.returncode == 0, revealed.stderr
    shown = revealed.stdout.decode()
    assert SECRET in shown
    assert not raw_controls(shown), raw_controls(shown)

    for fmt in ("csv", "jsonl"):
        export = cli("audit", "export", "--format", fmt, "--db", db, env=clean_env)
        assert export.returncode == 0, export.stderr
        text = export.stdout.decode()
        assert not raw_controls(text), (fmt, raw_controls(text))
        assert "\\u001b]0;pwned" in text  # shown escaped in both, nothing dropped
    agents = cli("ls", "agents", "--db", db, env=clean_env).stdout.decode()
    assert not raw_controls(agents)
    assert len(agents.splitlines()) == 2  # the header and one row: no forged lines
