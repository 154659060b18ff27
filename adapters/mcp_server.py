"""``mcp`` adapter: swarmdeck's MCP approval server, served by the collector over HTTP.

Any MCP client on this machine connects to ``http://127.0.0.1:<port>/mcp``
(streamable HTTP) with the listeners' bearer token (``swarmdeck token show``; the
listener guard refuses anything else with its 4xx status) and gets two tools:
``request_approval`` (raises an escalation, waits for the manager's decision,
returns a structured result) and ``report_status`` (keeps the agent's row
current). Escalations are stored with this instance as their origin, and the
supervisor's delivery loop hands each decision to :meth:`McpAdapter.deliver`,
which wakes the waiting tool call.

For MCP clients that spawn their servers (stdio), use ``swarmdeck mcp`` instead.
"""

from __future__ import annotations

import socket
from typing import Any, ClassVar

from mcp.server.transport_security import TransportSecuritySettings
from pydantic import ConfigDict, Field

from swarmdeck.adapters._http_common import ListenerOptions, ServingAdapter
from swarmdeck.adapters.base import AdapterContext, AdapterOptions
from swarmdeck.adapters.listener_guard import listener_hosts


class McpOptions(ListenerOptions):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    port: int = Field(default=7341, ge=0, le=65535)
    """Port to listen on (0 picks a free one, shown in the adapter's health)."""
    path: str = Field(default="/mcp", pattern=r"^/")
    """URL path of the MCP endpoint."""
    timeout: float = Field(default=600.0, gt=0, le=366 * 86400, allow_inf_nan=False)
    """Seconds ``request_approval`` waits for a decision before answering ``timeout``."""
    progress_every: float = Field(default=5.0, gt=0, le=3600, allow_inf_nan=False)
    """Seconds between progress notifications while a call waits."""


class McpAdapter(ServingAdapter):
    """Serves MCP tools over streamable HTTP; decisions come back through ``deliver``."""

    type_name: ClassVar[str] = "mcp"
    description: ClassVar[str] = (
        "MCP approval server (streamable HTTP on 127.0.0.1): request_approval, report_status"
    )
    Options: ClassVar[type[AdapterOptions]] = McpOptions
    serves: ClassVar[str] = "MCP"
    restart_reason: ClassVar[str] = "the MCP endpoint restarted; the waiting call ended with it"

    opts: McpOptions

    def __init__(self, options: AdapterOptions, context: AdapterContext) -> None:
        super().__init__(options, context)
        assert isinstance(options, McpOptions)
        self.opts = options

    def build_app(self) -> Any:
        from swarmdeck.adapters.mcp_tools import build_server

        server = build_server(
            self.bridge,
            timeout=self.opts.timeout,
            progress_every=self.opts.progress_every,
            host=socket.gethostname() or None,
            name="swarmdeck",
        )
        # The listener guard checks the token, Host and Origin first; the SDK's own check
        # stays as a second fence, told the same hosts so a configured reverse proxy passes.
        port = self.port or self.opts.port
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=sorted(listener_hosts(self.opts.host, port, self.opts.allowed_hosts)),
            allowed_origins=sorted(o.strip().lower() for o in self.opts.allowed_origins),
        )
        return server.streamable_http_app(
            streamable_http_path=self.opts.path,
            host=self.opts.host,
            transport_security=security,
            max_request_body_size=self.opts.max_body_bytes,
        )
