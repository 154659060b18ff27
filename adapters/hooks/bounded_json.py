"""Reading JSON that an agent (or an attacker through it) wrote: bounded, and never a crash.

``json.loads`` recurses once per nesting level: 2,000 levels raise ``RecursionError``,
which the hook endpoint once turned into an HTTP 500, a fail-open for Claude Code.
pydantic-core's parser stops at 200 levels with an ordinary error; :func:`load` uses it,
then enforces a lower depth. A lone surrogate escape (``"\\ud800"``, which JavaScript's
``JSON.stringify`` may write) is refused by pydantic-core, so such a text is read by
``json.loads`` instead, and the surrogate replaced: SQLite could not store it.

:func:`top_level_string` finds one top-level string field in text that may not parse at
all (too deep, cut short), to answer a refused request in its own shape: it skips strings
and counts brackets, so a nested field of the same name can neither hide nor fake it.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic_core


class Unreadable(ValueError):
    """Not JSON, or nested too deep; ``str()`` says which, in one line."""


def load(raw: bytes | str, *, max_depth: int) -> Any:
    """Parse ``raw``; finite numbers only (no ``NaN`` or ``Infinity`` literals). Bytes that
    are not UTF-8 are replaced (U+FFFD), as a text read from a pipe would be.

    Raises:
        Unreadable: not JSON, or nested deeper than ``max_depth``.
    """
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        data = pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        if "escape" not in str(exc):
            raise Unreadable(f"is not valid JSON ({exc})") from None
        try:
            data = _replace_surrogates(json.loads(raw))
        except (ValueError, RecursionError) as again:
            raise Unreadable(f"is not valid JSON ({again})") from None
    if depth(data, stop=max_depth) > max_depth:
        raise Unreadable(f"is nested deeper than {max_depth} levels")
    return data


def depth(value: Any, *, stop: int) -> int:
    """Nesting depth of decoded JSON (iterative; gives up counting past ``stop``)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > stop:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def _replace_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [_replace_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_replace_surrogates(k): _replace_surrogates(v) for k, v in value.items()}
    return value


def top_level_string(
    raw: bytes | str, key: str, *, max_length: int = 200, scan: int = 65_536
) -> str | None:
    """The string value of ``key`` at the top level of a JSON object, found in the first
    ``scan`` bytes of ``raw`` without parsing the rest; None if not found there."""
    data = raw[:scan].encode("utf-8", "replace") if isinstance(raw, str) else raw[:scan]
    wanted = key.encode("utf-8")
    i, n = 0, len(data)
    while i < n and data[i] in b" \t\r\n":
        i += 1
    if i >= n or data[i : i + 1] != b"{":
        return None
    level, key_next, last_string, value_of = 0, True, b"", b""
    while i < n:
        c = data[i : i + 1]
        if c == b'"':
            end = i + 1
            while end < n and data[end : end + 1] != b'"':
                end += 2 if data[end : end + 1] == b"\\" else 1
            text = data[i + 1 : end]
            if level == 1:
                if value_of == wanted:
                    try:
                        return str(json.loads(b'"' + text + b'"'))[:max_length]
                    except ValueError:
                        return None
                last_string = text if key_next else b""
            i = end + 1
            continue
        if c in b"{[":
            level += 1
        elif c in b"}]":
            level -= 1
        elif level == 1 and c == b":":
            value_of, key_next = last_string, False
        elif level == 1 and c == b",":
            key_next, value_of = True, b""
        elif level == 1 and not c.isspace():
            value_of = b""
        i += 1
    return None
