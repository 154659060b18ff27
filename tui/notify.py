"""Desktop notifications through the terminal: OSC 9 and OSC 777.

Both are plain escape sequences written to the terminal, so they travel over SSH.
Inside tmux they must be wrapped in a DCS passthrough (``ESC P tmux; ... ESC \\``,
every ESC inside doubled), and tmux must allow it (``set -g allow-passthrough on``).
The text comes from agents: it is cleaned and stripped of the characters that would
end or split the sequence.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from swarmdeck.tui.safe_text import clean


def _field(text: str, limit: int = 200) -> str:
    return clean(text, max_len=limit, single_line=True).replace(";", ",")


def osc_sequences(title: str, body: str, env: Mapping[str, str] | None = None) -> str:
    """OSC 9 (iTerm2, WezTerm, Windows Terminal, kitty) and OSC 777 (rxvt, foot, Ghostty...)."""
    env = os.environ if env is None else env
    t, b = _field(title, 80), _field(body)
    seqs = [f"\x1b]9;{t}: {b}\x07", f"\x1b]777;notify;{t};{b}\x07"]
    if env.get("TMUX"):
        seqs = [tmux_passthrough(s) for s in seqs]
    return "".join(seqs)


def tmux_passthrough(sequence: str) -> str:
    return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"
