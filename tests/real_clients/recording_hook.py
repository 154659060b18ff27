"""A trivial hook command for the real CLIs: record the payload, answer as told.

    python recording_hook.py DIR [--stdout JSON] [--stderr TEXT] [--exit N] [--sleep S]

It writes its stdin to ``DIR/<n>-<hook_event_name>.json`` (n counts up, so the order
the CLI called its hooks is kept), then sleeps, prints and exits as its options say.
The tests use it to see exactly what each CLI sends its hooks and which answers it
honours, independent of swarmdeck's own hook code. Standard library only: it runs
in the CLI's environment, not in the test's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", type=Path)
    parser.add_argument("--stdout", default="")
    parser.add_argument("--stderr", default="")
    parser.add_argument("--exit", type=int, default=0)
    parser.add_argument("--sleep", type=float, default=0.0)
    args = parser.parse_args()

    raw = sys.stdin.read()
    try:
        event = str(json.loads(raw).get("hook_event_name", "unknown"))
    except (ValueError, AttributeError):
        event = "unparsed"
    args.dir.mkdir(parents=True, exist_ok=True)
    # O_EXCL on a counter: concurrent hooks (Codex runs matching hooks concurrently) never
    # overwrite each other's record.
    n = len(list(args.dir.glob("*.json")))
    while True:
        path = args.dir / f"{n:03d}-{event}.json"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            n += 1
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(raw)
    if args.sleep:
        time.sleep(args.sleep)
    if args.stdout:
        sys.stdout.write(args.stdout + "\n")
    if args.stderr:
        sys.stderr.write(args.stderr + "\n")
    return int(args.exit)


if __name__ == "__main__":
    sys.exit(main())
