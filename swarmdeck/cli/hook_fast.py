"""``swarmdeck hook <vendor>`` on its fast path: the standard library only, until it must.

The CLIs run the hook on every tool call, so its start-up is paid on every call. This
module is what the entry point runs for ``swarmdeck [--db P] [--config P] hook <vendor>
[--timeout N]``, before click, pydantic or the store are imported:

1. read the payload from stdin;
2. find the database (``--db``, ``$SWARMDECK_DB``, the config file's ``db``, the
   default) and so the collector's socket (:mod:`swarmdeck.adapters.hooks.handoff`);
3. hand the call to the collector and print its answer; or, when no collector runs
   (or it declines: other settings), import the store path (:mod:`.hook_run`) and
   answer in this process.

A signal (the CLI gave up on the hook) or a bug on the way still answers: exit 2 with
the reason on stderr, which Claude Code, Codex and Gemini CLI all read as a deny.

Every import here is paid on every tool call: no ``typing``, ``dataclasses`` or
``pathlib`` (paths are ``str``); ``python -X importtime`` shows what is left (``json``,
``signal``, ``_socket``: a few milliseconds).
"""

from __future__ import annotations

import os
import signal
import sys

from swarmdeck.adapters.hooks import VENDORS

TYPE_CHECKING = False  # without importing typing; mypy reads this name as True
if TYPE_CHECKING:
    from types import FrameType
    from typing import BinaryIO, NoReturn

#: Hook payloads are small; anything bigger is not one (the store path says so).
MAX_PAYLOAD = 4 * 1024 * 1024
APP_NAME = "swarmdeck"
#: Exit code every supported CLI reads as "deny" (with stderr as the reason).
DENY_EXIT = 2
#: Seconds to wait for stdin to end. The CLIs write the payload and close stdin at once:
#: an open, silent stdin is not one of them, and must not keep the hook (and whatever
#: waits on it) alive for ever.
STDIN_TIMEOUT = 30.0
#: Where platformdirs' answer is plain XDG, it is computed here instead of imported.
XDG = sys.platform.startswith("linux")


class HookArgs:
    """What ``swarmdeck hook`` was told: the vendor, and ``--db``/``--config``/``--timeout``."""

    __slots__ = ("config", "db", "servers", "timeout", "vendor")

    def __init__(
        self,
        vendor: str,
        db: str | None = None,
        config: str | None = None,
        timeout: float | None = None,
        servers: tuple[str, ...] = (),
    ) -> None:
        self.vendor = vendor
        self.db = db
        self.config = config
        self.timeout = timeout
        #: ``--server`` URLs: hand the call to a collector on another host (no store here).
        self.servers = servers

    def __repr__(self) -> str:
        return f"HookArgs({self.vendor!r}, db={self.db!r}, config={self.config!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HookArgs) and all(
            getattr(self, k) == getattr(other, k) for k in self.__slots__
        )

    __hash__ = None  # type: ignore[assignment]


def parse_hook_args(argv: list[str]) -> HookArgs | None:
    """``[--db P] [--config P] hook <vendor> [--db P] [--config P] [--timeout N]``, or None
    for anything else (help, another command, an option we do not know: click decides)."""
    values: dict[str, str] = {}
    rest = list(argv)
    seen_hook = False
    vendor: str | None = None
    while rest:
        arg = rest.pop(0)
        name, eq, value = arg.partition("=")
        if name in ("--db", "--config") or (seen_hook and vendor and name == "--timeout"):
            if not eq:
                if not rest:
                    return None
                value = rest.pop(0)
            values[name[2:]] = value
        elif not seen_hook and arg == "hook":
            seen_hook = True
        elif seen_hook and vendor is None and arg in VENDORS:
            vendor = arg
        else:
            return None
    if vendor is None:
        return None
    timeout: float | None = None
    if "timeout" in values:
        try:
            timeout = float(values["timeout"])
        except ValueError:
            return None  # click reports the bad value
        if not 0 < timeout < float("inf"):  # nan, inf, <= 0: click refuses them in one line
            return None
    return HookArgs(vendor, db=values.get("db"), config=values.get("config"), timeout=timeout)


# ----------------------------------------------------------------------------- paths


def _xdg(variable: str, fallback: str) -> str:
    value = os.environ.get(variable, "").strip()
    return value if value else os.path.expanduser(fallback)


def default_config_dir() -> str:
    """platformdirs' ``user_config_dir("swarmdeck")``, without importing it on Linux."""
    if XDG:
        return os.path.join(_xdg("XDG_CONFIG_HOME", "~/.config"), APP_NAME)
    import platformdirs

    return str(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def default_data_dir() -> str:
    """platformdirs' ``user_data_dir("swarmdeck")``, without importing it on Linux."""
    if XDG:
        return os.path.join(_xdg("XDG_DATA_HOME", "~/.local/share"), APP_NAME)
    import platformdirs

    return str(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_path(flag: str | None) -> str:
    """The config file the settings would come from (as ``load_settings`` resolves it)."""
    if flag is not None:
        return os.path.realpath(os.path.expanduser(flag))
    env = os.environ.get("SWARMDECK_CONFIG")
    base = os.path.expanduser(env) if env else os.path.join(default_config_dir(), "config.toml")
    return os.path.realpath(base)


def db_path(flag: str | None, config: str) -> str:
    """The database the settings would name (flag > environment > config file > default).

    Raises:
        ValueError: the config file cannot be read as TOML (the store path reports it).
    """
    if flag is not None:
        return os.path.expanduser(flag)
    env = os.environ.get("SWARMDECK_DB")
    if env:
        return os.path.expanduser(env)
    if os.path.exists(config):
        import tomllib

        try:
            with open(config, "rb") as fh:
                value = tomllib.load(fh).get("db")
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(str(exc)) from None
        if isinstance(value, str) and value:
            return os.path.expanduser(value)
    return os.path.join(default_data_dir(), "swarmdeck.db")


# ----------------------------------------------------------------------------- running


def _finish(code: int, out: str, err: str, *, now: bool = False) -> NoReturn:
    if out:
        sys.stdout.write(out + "\n")
    if err:
        sys.stderr.write(err + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    if now:
        os._exit(code)  # from a signal handler: no unwinding through a blocked recv()
    # sys.exit, not a return code: the click group is not involved on this path.
    sys.exit(code)


def _stopped(signum: int, _frame: FrameType | None) -> None:
    _finish(DENY_EXIT, "", "swarmdeck: stopped before a decision came; answered deny", now=True)


class _SilentStdin(Exception):
    """Raised by the alarm that ends a wait for stdin."""


def _silent(signum: int, _frame: FrameType | None) -> None:
    raise _SilentStdin


def read_payload(stream: BinaryIO, limit: int) -> bytes | None:
    """Up to ``limit`` bytes of ``stream``, or None when it does not end within
    :data:`STDIN_TIMEOUT` seconds. An alarm, not a thread: ``threading`` would be paid on
    every tool call; where there is no SIGALRM (Windows) the read is not bounded."""
    alarm = getattr(signal, "SIGALRM", None)
    if alarm is None:
        return stream.read(limit)
    previous = signal.signal(alarm, _silent)
    signal.setitimer(signal.ITIMER_REAL, STDIN_TIMEOUT)
    try:
        return stream.read(limit)
    except _SilentStdin:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(alarm, previous)


def run(args: HookArgs) -> NoReturn:
    """Answer one hook call and exit."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _stopped)
    try:
        raw = read_payload(sys.stdin.buffer, MAX_PAYLOAD + 1)
        if raw is None:  # whatever hooks.default says: nobody asked anything readable
            _finish(DENY_EXIT, "", f"swarmdeck: no hook payload on stdin within {STDIN_TIMEOUT:g}s")
        interactive: bool | None = None
        if args.vendor == "gemini":
            from swarmdeck.adapters.hooks.gemini_session import detect_interactive

            interactive = detect_interactive()
        call_id = os.urandom(8).hex()
        # --server: the collector is on another host, and only the store path speaks HTTP.
        answer = "store" if args.servers else _via_collector(args, raw, call_id, interactive)
        if isinstance(answer, tuple):
            _finish(*answer)
        if answer == "fresh":
            call_id = os.urandom(8).hex()
        from swarmdeck.cli.hook_run import run_hook

        _finish(*run_hook(args, raw, call_id=call_id, interactive=interactive))
    except SystemExit:
        raise
    except BaseException as exc:  # a bug must still deny, never a traceback or exit 1
        text = " ".join(str(exc).split())[:300] or type(exc).__name__
        _finish(DENY_EXIT, "", f"swarmdeck: internal error ({text}); answered deny")


def _via_collector(
    args: HookArgs, raw: bytes, call_id: str, interactive: bool | None
) -> tuple[int, str, str] | str:
    """The collector's answer, or ``"store"`` when the store path has to answer (``"fresh"``:
    with a new escalation, the collector having withdrawn the one it raised)."""
    from swarmdeck.adapters.hooks import handoff

    if len(raw) > MAX_PAYLOAD:
        return "store"  # the store path explains the refusal the same way every time
    try:
        config = config_path(args.config)
        db = db_path(args.db, config)
        request = handoff.Request(
            vendor=args.vendor,
            call_id=call_id,
            payload=raw,
            timeout=args.timeout,
            config=str(config),
            env=handoff.settings_env(),
            interactive=interactive,
        )
        # stdout watched: a CLI killed while we wait leaves it without a reader.
        answer = handoff.ask(handoff.socket_path(db), request, watch=sys.stdout.fileno())
    except handoff.CliGone as exc:
        return DENY_EXIT, "", f"swarmdeck: {exc}; answered deny"
    except handoff.Fallback as exc:
        return "fresh" if exc.sent else "store"
    except (ValueError, OSError):
        return "store"
    return answer.exit_code, answer.stdout, answer.stderr
