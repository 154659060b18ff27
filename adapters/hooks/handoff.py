"""The hand-off between ``swarmdeck hook <vendor>`` and a running collector.

Every tool call of every agent starts the hook command, so its start-up is paid on every
call. Importing the store alone (pydantic, asyncio, aiosqlite) costs several times the
interpreter's own start; the thin client instead imports only this module (the
standard library) and hands the raw payload to the collector, which already has all of
that loaded, over a Unix socket. When no collector runs, the hook command does the work
itself (the store path), with the same answers.

One connection per hook call, one JSON line each way::

    client -> {"v": 1, "vendor": "codex", "call": "<hex>", "payload": "<text>",
               "timeout": null, "config": "/home/u/.config/swarmdeck/config.toml",
               "env": {"SWARMDECK_HOOKS__TIMEOUT": "60"}, "interactive": null}
    server -> {"exit": 0, "stdout": "{...}", "stderr": ""}
           or {"fallback": "why"}    (the client then takes the store path)

The client keeps the connection open while it waits; closing it (the CLI killed the
hook) tells the collector to withdraw the escalation. A client that sees its CLI go
away (the read end of its stdout closed: the CLI was killed) says so first, in one
line ``{"gone": "why"}``, and the withdrawal carries that reason.

Security: the socket is created 0600 in a directory only its user can enter, and the
server accepts only peers of its own uid (``SO_PEERCRED``); the client talks only to a
socket its own uid owns.

Lean on purpose: the client's whole cost is its imports, so this module uses ``_socket``
(``socket`` pulls in ``enum``, ``selectors``...), plain classes (``dataclasses`` pulls in
``inspect``), ``str`` paths (``pathlib`` pulls in ``urllib``) and imports ``hashlib``
(OpenSSL) only for the rare long database path. ``python -X importtime`` shows the rest.
"""

from __future__ import annotations

import _socket
import json
import os
import select

VERSION = 1
#: Unix socket paths are limited to 108 bytes (104 on macOS), terminator included.
MAX_SOCKET_PATH = 100
#: The settings (as ``SWARMDECK_*`` variables) that change how a hook call is answered:
#: both ends must agree on them, or the collector declines the call.
ANSWER_ENV = ("SWARMDECK_HOOKS", "SWARMDECK_GUARDRAILS", "SWARMDECK_POLICY", "SWARMDECK_ACTOR")


#: Where sockets of databases with long paths go: a fixed place, not ``$XDG_RUNTIME_DIR``
#: or ``$TMPDIR``, because the agent CLI that runs the hook may have another environment
#: than the collector, and both ends must find the same file. The directory is 0700 and
#: checked to be ours before the collector listens in it.
RUNTIME_ROOT = "/tmp"  # noqa: S108


def socket_path(db: str | os.PathLike[str]) -> str:
    """Where the collector of ``db`` listens: beside the database when the path is short
    enough, else in a private directory of this user, named by a hash of the path."""
    text = os.fspath(db)
    # A database URL (postgresql://...) has no file to sit beside: named by its hash.
    full = text if "://" in text else os.path.abspath(text)
    beside = full + ".hook.sock"
    if "://" not in full and len(os.fsencode(beside)) <= MAX_SOCKET_PATH:
        return beside
    import hashlib

    digest = hashlib.sha256(os.fsencode(full)).hexdigest()[:20]
    return os.path.join(RUNTIME_ROOT, f"swarmdeck-{os.getuid()}", f"{digest}.sock")


def settings_env(environ: dict[str, str] | os._Environ[str] | None = None) -> dict[str, str]:
    """The variables of :data:`ANSWER_ENV` (exact or ``__``-nested) that are set."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if k.upper().startswith(ANSWER_ENV)}


class Request:
    """One hook call as the client hands it over."""

    __slots__ = ("call_id", "config", "env", "interactive", "payload", "timeout", "vendor")

    def __init__(
        self,
        *,
        vendor: str,
        call_id: str,
        payload: bytes,
        timeout: float | None,
        config: str,
        env: dict[str, str],
        interactive: bool | None,
    ) -> None:
        self.vendor = vendor
        self.call_id = call_id
        self.payload = payload
        self.timeout = timeout
        self.config = config
        self.env = env
        self.interactive = interactive


def encode_request(request: Request) -> bytes:
    data = {
        "v": VERSION,
        "vendor": request.vendor,
        "call": request.call_id,
        "payload": request.payload.decode("utf-8", "surrogateescape"),
        "timeout": request.timeout,
        "config": request.config,
        "env": request.env,
        "interactive": request.interactive,
    }
    return json.dumps(data).encode("ascii") + b"\n"


def decode_request(line: bytes) -> Request:
    """Raises: ValueError: not a request of this version."""
    data = json.loads(line)
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise ValueError("not a swarmdeck hook request of this version")
    timeout = data.get("timeout")
    env = data.get("env") or {}
    interactive = data.get("interactive")
    if not (
        isinstance(data.get("vendor"), str)
        and isinstance(data.get("call"), str)
        and isinstance(data.get("payload"), str)
        and isinstance(data.get("config"), str)
        and isinstance(env, dict)
        and (timeout is None or isinstance(timeout, int | float))
        and (interactive is None or isinstance(interactive, bool))
    ):
        raise ValueError("malformed swarmdeck hook request")
    return Request(
        vendor=data["vendor"],
        call_id=data["call"][:64],
        payload=data["payload"].encode("utf-8", "surrogateescape"),
        timeout=None if timeout is None else float(timeout),
        config=data["config"],
        env={str(k): str(v) for k, v in env.items()},
        interactive=interactive,
    )


def encode_answer(exit_code: int, stdout: str, stderr: str) -> bytes:
    return json.dumps({"exit": exit_code, "stdout": stdout, "stderr": stderr}).encode() + b"\n"


def encode_fallback(reason: str) -> bytes:
    return json.dumps({"fallback": reason}).encode() + b"\n"


class Answer:
    """The collector's answer: what the hook prints, and its exit code."""

    __slots__ = ("exit_code", "stderr", "stdout")

    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr


#: Why the hook gives up when its CLI went away (nobody reads its answer any more).
CLI_GONE = (
    "the agent's CLI stopped waiting for the hook before a decision came "
    "(it went away: the hook's output has no reader)"
)


def encode_gone(reason: str) -> bytes:
    return json.dumps({"gone": reason}).encode() + b"\n"


def decode_gone(line: bytes) -> str | None:
    """The reason of a ``{"gone": ...}`` line, or None for anything else."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    gone = data.get("gone") if isinstance(data, dict) else None
    return gone[:500] if isinstance(gone, str) and gone else None


def reader_gone(fd: int = 1) -> bool:
    """Whether nobody can read ``fd`` any more: a pipe or socket whose reader closed (the
    CLI that started the hook was killed). A file or terminal never counts as gone."""
    poller = select.poll()
    poller.register(fd, 0)  # no events asked: only errors and hang-ups are reported
    return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(0))


class CliGone(Exception):
    """The hook's own CLI went away while the collector worked on the call; the
    collector was told (and withdraws the escalation). ``str()`` says why."""


class Fallback(Exception):
    """No answer from a collector: take the store path (``str()`` says why).

    ``sent`` says the collector had the call and went away without answering (it
    stopped, and withdrew the escalation it had raised): the store path then raises a
    fresh escalation instead of waiting on the withdrawn one.
    """

    def __init__(self, reason: str, *, sent: bool = False) -> None:
        super().__init__(reason)
        self.sent = sent


def ask(
    path: str, request: Request, *, connect_timeout: float = 2.0, watch: int | None = None
) -> Answer:
    """Hand one call to the collector listening on ``path`` and wait for its answer.

    Args:
        watch: a descriptor (the hook's stdout) whose reader going away means the CLI
            is gone: then the collector is told and the wait ends.

    Raises:
        Fallback: no collector listens there, it is not ours, it declined the call or
            it went away before answering.
        CliGone: ``watch`` lost its reader first.
    """
    try:
        st = os.stat(path)
    except OSError:
        raise Fallback("no collector socket") from None
    if st.st_uid != os.getuid():
        raise Fallback(f"{path} belongs to another user")
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(connect_timeout)
        try:
            sock.connect(path)
        except OSError as exc:
            raise Fallback(f"no collector answers on {path} ({exc.strerror or exc})") from None
        sock.settimeout(None)  # a manager may take minutes; the CLI's own timeout rules
        sock.sendall(encode_request(request))
        line = _read_line(sock, watch)
        if line is None:
            with _suppress_os_error():
                sock.sendall(encode_gone(CLI_GONE))
            raise CliGone(CLI_GONE)
    finally:
        sock.close()
    if not line:
        raise Fallback("the collector went away before answering", sent=True)
    try:
        data = json.loads(line)
    except ValueError:
        raise Fallback("the collector's answer is not JSON") from None
    if isinstance(data, dict) and isinstance(data.get("fallback"), str):
        raise Fallback(data["fallback"])
    if not (
        isinstance(data, dict)
        and isinstance(data.get("exit"), int)
        and isinstance(data.get("stdout"), str)
        and isinstance(data.get("stderr"), str)
    ):
        raise Fallback("the collector's answer is malformed")
    return Answer(data["exit"], data["stdout"], data["stderr"])


class _suppress_os_error:
    """``contextlib.suppress(OSError)`` without importing contextlib on every hook call."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, tb: object) -> bool:
        return isinstance(exc, OSError)


def _read_line(sock: _socket.socket, watch: int | None = None) -> bytes | None:
    """The answer line; ``b""`` when the collector closed without one; None when
    ``watch`` lost its reader first."""
    poller = None
    if watch is not None:
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        poller.register(watch, 0)  # only errors and hang-ups of the watched descriptor
    chunks: list[bytes] = []
    while True:
        if poller is not None and watch is not None:
            ready = dict(poller.poll())
            watched = ready.get(watch, 0)
            if watched & (select.POLLERR | select.POLLHUP):
                return None
            if watched & select.POLLNVAL:
                poller.unregister(watch)  # not a descriptor: nothing to watch
                watch = None
            if sock.fileno() not in ready:
                continue
        try:
            chunk = sock.recv(65536)
        except OSError:
            return b""
        if not chunk:
            return b""  # closed without a full line: no answer
        chunks.append(chunk)
        if chunk.endswith(b"\n"):
            return b"".join(chunks)


def peer_uid(sock: _socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket (None if unknown)."""
    option = getattr(_socket, "SO_PEERCRED", None)  # Linux; elsewhere the 0600 mode guards
    if option is None:
        return None
    import struct

    creds = sock.getsockopt(_socket.SOL_SOCKET, option, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])
