"""The action page: what a push's links open on a phone. Approve, reject with a reason, open.

Two endpoints, and only one of them decides:

* ``GET /n/<token>`` shows the escalation (masked, cleaned, HTML-escaped) with two
  forms. It never decides: chat apps fetch every URL they see to draw a preview, and
  a GET that approved would let a link preview approve ``rm -rf``.
* ``POST /n/decide`` takes ``token``, ``escalation``, ``action`` (``approve`` or
  ``reject``) and ``reason`` as a form (``application/x-www-form-urlencoded``); the
  page's forms and ntfy's ``http`` action button both send it. The signed token in
  the form is what authorises the request (a cross-site form cannot know it).

A token is honoured only if its signature holds, it has not expired, its route still
exists with the same owner, the form names the same escalation, and its nonce was
never used. The decision is the store's ordinary compare-and-set ``decide``, with
actor ``<owner> via notify:<route>`` in the audit chain; someone faster gets
"already decided by ...". In read-only mode the page shows and never decides.

Page-level checks that every listener needs (body size, ``Host``, ``Origin``,
``Content-Type``) are done here too; the shared listener guard (``doors``) wraps this
app in the collector with its bearer check exempted, since the signed link *is* the
credential a phone has.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route as Endpoint

from swarmdeck.actor import current_host
from swarmdeck.guardrails import OutgoingMasker
from swarmdeck.notify.links import LinkClaims, LinkRefused, LinkSigner
from swarmdeck.notify.routes import Route
from swarmdeck.store import notify as pushes
from swarmdeck.store.db import Store
from swarmdeck.store.errors import AlreadyDecided, InvalidDecision, NotFound
from swarmdeck.store.models import Escalation

log = logging.getLogger("swarmdeck.notify.page")

#: Largest form accepted (a reason is a sentence, not a file).
MAX_BODY = 16 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"

_HEADERS = {
    # The token is in the URL: never send it on to another site, never cache the page.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:40rem;margin:1rem auto;padding:0 1rem;
color:#1d232a;background:#f6f7f9}h1{font-size:1.2rem}pre{white-space:pre-wrap;
background:#fff;border:1px solid #ccd;padding:.6rem;border-radius:.3rem}
.meta{color:#556}.ok{color:#176b2c}.no{color:#9b1c1c}form{margin:.8rem 0}
textarea{width:100%;min-height:4rem}button{font-size:1rem;padding:.5rem 1.2rem}
"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    doc = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<meta name='robots' content='noindex'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )
    return HTMLResponse(doc, status_code=status, headers=_HEADERS)


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts or 0, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class ActionPage:
    """The Starlette app of the action page (see the module docstring).

    Args:
        routes: the routes as configured now; a token's route and owner must match.
        origins: origins a browser form may come from (``https://deck.example``).
        hosts: ``Host`` values accepted (``deck.example``, ``127.0.0.1:7345``); empty
            accepts any (a test server on an ephemeral port).
        read_only: show, never decide.
    """

    def __init__(
        self,
        store: Store,
        signer: LinkSigner,
        routes: list[Route],
        masker: OutgoingMasker,
        *,
        clock: Callable[[], float] = time.time,
        origins: frozenset[str] = frozenset(),
        hosts: frozenset[str] = frozenset(),
        read_only: bool = False,
    ) -> None:
        self.store = store
        self.signer = signer
        self.routes = {r.name: r for r in routes}
        self.masker = masker
        self.clock = clock
        self.origins = origins
        self.hosts = hosts
        self.read_only = read_only
        self.app = Starlette(
            routes=[
                Endpoint("/n/decide", self._decide, methods=["POST"]),
                Endpoint("/n/{token}", self._show, methods=["GET"]),
            ]
        )

    # ------------------------------------------------------------------ checks

    def _refuse_request(self, request: Request) -> Response | None:
        host = request.headers.get("host", "")
        if self.hosts and host.lower() not in self.hosts:
            return _page("Refused", "<h1>Unknown host</h1>", 421)
        return None

    def _claims(self, token: str) -> LinkClaims:
        """Verified claims whose route still exists with the same owner."""
        claims = self.signer.verify(token, self.clock())
        route = self.routes.get(claims.route)
        if route is None or route.config.owner != claims.owner:
            raise LinkRefused("this link's route or its owner has changed since it was sent")
        return claims

    # ------------------------------------------------------------------ GET

    async def _show(self, request: Request) -> Response:
        refused = self._refuse_request(request)
        if refused is not None:
            return refused
        token = request.path_params["token"]
        try:
            claims = self._claims(token)
        except LinkRefused as exc:
            return _page("Link refused", f"<h1 class='no'>{html.escape(str(exc))}</h1>", 403)
        try:
            esc = await self.store.escalation(claims.escalation)
        except NotFound:
            return _page("Not found", "<h1>This escalation no longer exists</h1>", 404)
        parts = [self._describe(esc)]
        used = await pushes.link_use(self.store, claims.nonce)
        if esc.state != "open":
            parts.append(f"<p class='no'>{html.escape(self._closed(esc))}</p>")
        elif used is not None:
            parts.append(
                f"<p class='no'>This link was already used by {self._h(used.actor)} at "
                f"{_when(used.used_ts)}.</p>"
            )
        elif self.read_only:
            parts.append("<p class='no'>This deck is read-only: decide in the terminal.</p>")
        else:
            parts.append(self._forms(token, esc))
        return _page(f"swarmdeck: {self._line(esc.title)}", "".join(parts))

    def _h(self, value: object, max_length: int = 300) -> str:
        return html.escape(self.masker.text(value, single_line=True, max_length=max_length))

    def _line(self, value: object) -> str:
        return self.masker.text(value, single_line=True, max_length=120)

    def _describe(self, esc: Escalation) -> str:
        meta = [f"[{esc.severity}] {esc.kind}"]
        for label, value in (("agent", esc.agent), ("task", esc.task), ("workflow", esc.workflow)):
            if value:
                meta.append(f"{label} {value}")
        body = self.masker.text(esc.body, max_length=4000)
        out = [
            f"<h1>{self._h(esc.title, 500)}</h1>",
            f"<p class='meta'>{self._h(' · '.join(meta))}<br>raised {_when(esc.raised_ts)}",
        ]
        if esc.deadline is not None:
            out.append(f", deadline {_when(esc.deadline)}")
        out.append("</p>")
        if body.strip():
            out.append(f"<pre>{html.escape(body)}</pre>")
        return "".join(out)

    @staticmethod
    def _closed(esc: Escalation) -> str:
        if esc.state == "decided" and esc.decided_by:
            return (
                f"Already decided by {esc.decided_by} at {_when(esc.decided_ts)}: "
                f"{esc.action or ''}."
            )
        return f"This escalation is {esc.state}, not waiting any more."

    @staticmethod
    def _forms(token: str, esc: Escalation) -> str:
        hidden = (
            f"<input type='hidden' name='token' value='{html.escape(token, quote=True)}'>"
            f"<input type='hidden' name='escalation' value='{html.escape(esc.id, quote=True)}'>"
        )
        forms = []
        if esc.options is None or "approve" in esc.options:
            forms.append(
                f"<form method='post' action='decide'>{hidden}"
                "<input type='hidden' name='action' value='approve'>"
                "<button type='submit'>Approve</button></form>"
            )
        forms.append(
            f"<form method='post' action='decide'>{hidden}"
            "<input type='hidden' name='action' value='reject'>"
            "<label>Reason (the agent is told)<br>"
            "<textarea name='reason' required maxlength='2000'></textarea></label><br>"
            "<button type='submit'>Reject</button></form>"
        )
        return "".join(forms)

    # ------------------------------------------------------------------ POST

    async def _form(self, request: Request) -> dict[str, str] | Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != FORM_TYPE:
            return _page("Refused", f"<h1>Send a form ({FORM_TYPE})</h1>", 415)
        origin = request.headers.get("origin")
        if (
            origin is not None
            and origin != "null"
            and self.origins
            and origin.rstrip("/").lower() not in self.origins
        ):
            return _page("Refused", "<h1>Cross-site request refused</h1>", 403)
        raw = bytearray()
        async for chunk in request.stream():
            raw.extend(chunk)
            if len(raw) > MAX_BODY:
                return _page("Refused", "<h1>Form too large</h1>", 413)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _page("Refused", "<h1>The form is not UTF-8</h1>", 400)
        fields = parse_qs(text, keep_blank_values=True, max_num_fields=10)
        return {k: v[0] for k, v in fields.items() if v}

    async def _decide(self, request: Request) -> Response:
        refused = self._refuse_request(request)
        if refused is not None:
            return refused
        form = await self._form(request)
        if isinstance(form, Response):
            return form
        try:
            claims = self._claims(form.get("token", ""))
        except LinkRefused as exc:
            return _page("Link refused", f"<h1 class='no'>{html.escape(str(exc))}</h1>", 403)
        if form.get("escalation") != claims.escalation:
            return _page(
                "Link refused", "<h1 class='no'>This link is for another escalation</h1>", 403
            )
        if self.read_only:
            return _page("Read-only", "<h1 class='no'>This deck is read-only</h1>", 403)
        action = form.get("action", "")
        reason = (form.get("reason") or "").strip() or None
        verb: Literal["approve", "reject"]
        if action == "approve":
            verb = "approve"
        elif action == "reject":
            verb = "reject"
        else:
            return _page("Refused", "<h1>Approve or reject</h1>", 400)
        if verb == "reject" and not reason:
            return _page(
                "Reason needed", "<h1>A reject needs a reason: the agent is told why</h1>", 400
            )
        actor = f"{claims.owner} via notify:{claims.route}"
        earlier = await pushes.use_link(
            self.store, claims.nonce, claims.escalation, claims.route, actor, self.clock()
        )
        if earlier is not None:
            return _page(
                "Link used",
                f"<h1 class='no'>This link was already used by {self._h(earlier.actor)} at "
                f"{_when(earlier.used_ts)}</h1>",
                409,
            )
        try:
            # The host is the collector's that served the page (the phone has none to give).
            await self.store.decide(
                claims.escalation, verb, actor=actor, reason=reason, host=current_host()
            )
        except AlreadyDecided as exc:
            return _page("Already decided", f"<h1 class='no'>{self._h(exc)}</h1>", 409)
        except (InvalidDecision, NotFound) as exc:
            await pushes.release_link(self.store, claims.nonce)
            return _page("Refused", f"<h1 class='no'>{self._h(exc)}</h1>", 400)
        done = "Approved" if verb == "approve" else "Rejected"
        log.info("%s %s via notify:%s", done.lower(), claims.escalation, claims.route)
        return _page(done, f"<h1 class='ok'>{done}.</h1><p>Recorded as {self._h(actor)}.</p>")


def allowed_origins_and_hosts(
    public_url: str | None, host: str, port: int
) -> tuple[frozenset[str], frozenset[str]]:
    """Origins a form may come from and ``Host`` values accepted, for the configured page."""
    origins: set[str] = set()
    hosts: set[str] = set()
    bind = f"[{host}]" if ":" in host and not host.startswith("[") else host
    for name in {bind, "127.0.0.1", "localhost"} if host in ("127.0.0.1", "localhost") else {bind}:
        hosts.add(f"{name}:{port}".lower())
        origins.add(f"http://{name}:{port}".lower())
    if public_url:
        parts = urlsplit(public_url)
        hosts.add(parts.netloc.lower())
        origins.add(f"{parts.scheme}://{parts.netloc}".lower())
    return frozenset(origins), frozenset(hosts)
