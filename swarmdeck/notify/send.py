"""Hand a message to apprise, once per attempt, and say plainly whether it arrived.

A fresh :class:`apprise.Apprise` is built per attempt: the route's URL is a secret
that never sits in a long-lived object, apprise's per-instance throttle never delays
a first push, and ntfy's per-message options (action buttons, click, priority) are
URL parameters in apprise, so they are added to the route's URL for this message.

Errors never carry the URL (it holds credentials): apprise's own result says only
that a service failed, and our message names the route.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import apprise

from swarmdeck.notify.message import Button, Message

log = logging.getLogger("swarmdeck.notify")

#: ntfy priority per severity (1 min ... 5 max).
NTFY_PRIORITY = {"low": "low", "normal": "default", "high": "high", "critical": "max"}
NOTIFY_TYPE = {
    "low": apprise.NotifyType.INFO,
    "normal": apprise.NotifyType.INFO,
    "high": apprise.NotifyType.WARNING,
    "critical": apprise.NotifyType.FAILURE,
}


class SendFailed(Exception):
    """The channel did not take the message; ``str()`` never includes the URL."""


class BadRoute(SendFailed):
    """apprise does not understand the route's URL (retrying cannot help)."""


def is_ntfy(url: str) -> bool:
    return url.split("://", 1)[0].lower() in ("ntfy", "ntfys")


def _quote_action_value(value: str) -> str:
    """ntfy's action syntax quotes a value holding ``,`` or ``;`` (and we quote '=' too)."""
    if any(c in value for c in ",;='\""):
        return "'" + value.replace("'", "") + "'"
    return value


def ntfy_actions(buttons: list[Button]) -> str:
    """The ``X-Actions`` string (ntfy's short form; at most three buttons)."""
    parts = []
    for b in buttons[:3]:
        label = b.label.replace(",", " ").replace(";", " ")
        if b.action == "view":
            parts.append(f"view, {label}, {b.url}")
        else:
            fields = [
                f"http, {label}, {b.url}",
                "method=POST",
                "headers.Content-Type=application/x-www-form-urlencoded",
            ]
            if b.body is not None:
                fields.append(f"body={_quote_action_value(b.body)}")
            fields.append("clear=true")
            parts.append(", ".join(fields))
    return "; ".join(parts)


def url_for_message(url: str, message: Message) -> str:
    """The route URL with this message's ntfy options (a user's own options win)."""
    if not is_ntfy(url):
        return url
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.setdefault("priority", NTFY_PRIORITY.get(message.severity, "default"))
    if message.click:
        query.setdefault("click", message.click)
    if message.buttons:
        query.setdefault("actions", ntfy_actions(message.buttons))
    # apprise unquotes with unquote (not unquote_plus): spaces must be %20, not "+".
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


async def send(url: str, message: Message, *, limit: float = 15.0) -> None:
    """Deliver ``message`` through the apprise ``url``.

    Raises:
        BadRoute: apprise does not understand the URL.
        SendFailed: the service refused it, timed out or could not be reached.
    """
    notifier = apprise.Apprise()
    if not notifier.add(url_for_message(url, message)):
        raise BadRoute("apprise does not understand this route's URL (see apprise's URL list)")
    result = await notifier.async_notify(
        body=message.body,
        title=message.title,
        notify_type=NOTIFY_TYPE.get(message.severity, apprise.NotifyType.INFO),
        body_format=apprise.NotifyFormat.TEXT,
        timeout=limit,
    )
    if not result:
        status = getattr(result, "status", None)
        name = getattr(status, "name", None) or "FAILURE"
        raise SendFailed(f"the service did not accept the push ({name.lower()})")


def check_url(url: str) -> bool:
    """Does apprise understand this URL? (``swarmdeck notify ls`` says so per route.)"""
    return bool(apprise.Apprise().add(url))


#: Schemes whose host part names a server, not a credential (shown by ``notify ls``).
_HOST_SCHEMES = frozenset(
    {
        "ntfy",
        "ntfys",
        "json",
        "jsons",
        "xml",
        "xmls",
        "form",
        "forms",
        "mailto",
        "mailtos",
        "http",
        "https",
        "matrix",
        "matrixs",
        "gotify",
        "gotifys",
    }
)


def masked_url(url: str) -> str:
    """What ``notify ls`` may print of a route URL: the scheme and, where it names a
    server, the host; everything that may be a token, a password or a topic is ``…``.

    apprise's own ``privacy=True`` form keeps first and last characters of tokens;
    this keeps none.
    """
    scheme, sep, _ = url.partition("://")
    if not sep:
        return "…"
    scheme = scheme.lower()
    if scheme in _HOST_SCHEMES:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        # ntfy://topic (no path) sends to the cloud: the "host" is the topic there.
        if host and not (scheme.startswith("ntfy") and parts.path in ("", "/")):
            return f"{scheme}://{host}/…"
    return f"{scheme}://…"
