"""A third-party MCP server for the real-client tests: ``github`` with one tool.

``create_issue(title, body)`` writes the title to the file named on the command line
and answers "created issue #1", so a test sees whether the call ran. Run it as
``python fake_mcp_server.py MARKER`` (stdio), from an ``--mcp-config`` file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from mcp.server import MCPServer

server: MCPServer[Any] = MCPServer("github")


@server.tool()
async def create_issue(title: str, body: str = "") -> str:
    """Open an issue in the repository."""
    Path(sys.argv[1]).write_text(title, encoding="utf-8")
    return "created issue #1"


if __name__ == "__main__":
    server.run()
