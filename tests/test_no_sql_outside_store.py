"""The store's API is closed: no code above ``swarmdeck.store`` writes SQL or reaches inside.

Services ask named questions (``swarmdeck.store.queries``, the store's methods);
a second backend can then implement one list of queries instead of hunting SQL
through the policy engine, the screens and the integrations.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The store's private insides: its connection, transactions and raw reads.
PRIVATE = {
    "_fetchone",
    "_fetchall",
    "_write",
    "_conn",
    "_bump_rev",
    "_audit_insert",
    "_transact",
    "_exec",
    "_exec_many",
    "_serialise",
}
#: DB-API calls that run SQL.
SQL_CALLS = {"execute", "executemany", "executescript"}
#: Where SQL belongs (the store), or is allowed to poke at it (tests, benchmarks).
EXEMPT = {"store", "tests", "benchmarks", ".venv"}


def _sources() -> list[Path]:
    found = []
    for top, dirs, files in os.walk(ROOT):  # symlinks (swarmdeck/store -> ../store) not followed
        rel = Path(top).relative_to(ROOT)
        dirs[:] = [d for d in dirs if not d.startswith(".") and (rel != Path() or d not in EXEMPT)]
        found += [Path(top) / f for f in files if f.endswith(".py")]
    return found


def _violations(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in PRIVATE:
            out.append(f"{node.lineno}: .{node.attr}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SQL_CALLS
        ):
            out.append(f"{node.lineno}: .{node.func.attr}(...)")
    return out


def test_no_sql_and_no_store_internals_outside_the_store() -> None:
    sources = _sources()
    assert any(p.relative_to(ROOT).as_posix() == "swarmdeck/policy/engine.py" for p in sources)
    found = {
        rel: problems
        for p in sources
        if (problems := _violations(p))
        for rel in [p.relative_to(ROOT).as_posix()]
    }
    assert found == {}, "use a named query in swarmdeck.store.queries instead"


def test_the_check_sees_what_it_forbids(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("async def f(store):\n    await store._fetchall('SELECT 1')\n")
    assert _violations(sample) == ["2: ._fetchall"]
