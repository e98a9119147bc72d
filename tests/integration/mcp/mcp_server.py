"""A small real MCP server for the tests, run as a subprocess: it records every tool call it gets.

Usage: `python mcp_server.py stdio RECORD` or `python mcp_server.py http FD RECORD`, where FD is
a listening loopback socket inherited from the test (so the test can connect at once, without
waiting for the server to bind). Each call appends one JSON line to RECORD: the tool, the
arguments it received, the `_meta` it saw, and the trace id it joined with `joined_trace`.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import anyio
import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from opentelemetry import trace

from opentelemetry.instrumentation.tracengent_mcp import joined_trace


def build_server(record: Path) -> MCPServer:
    """The server with its four tools, each recording what it received into `record`."""
    server = MCPServer("tracengent-test-server")

    def remember(tool: str, arguments: dict[str, object], ctx: Context) -> None:
        meta = dict(ctx.request_context.meta or {})
        with joined_trace(meta):
            joined = trace.get_current_span().get_span_context()
        line = {
            "tool": tool,
            "arguments": arguments,
            "meta": {k: v for k, v in meta.items() if isinstance(v, str)},
            "joined_trace_id": format(joined.trace_id, "032x") if joined.is_valid else None,
        }
        with record.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")

    @server.tool()
    def search_flights(origin: str, destination: str, ctx: Context) -> str:
        """Find flights (allowed by the test policy)."""
        remember("search_flights", {"origin": origin, "destination": destination}, ctx)
        return f"3 flights {origin}->{destination}"

    @server.tool()
    def delete_account(user: str, ctx: Context) -> str:
        """Delete an account (denied by the test policy)."""
        remember("delete_account", {"user": user}, ctx)
        return f"deleted {user}"

    @server.tool()
    def send_invoice(amount: float, ctx: Context) -> str:
        """Send an invoice (held for approval by the test policy)."""
        remember("send_invoice", {"amount": amount}, ctx)
        return f"sent {amount}"

    @server.tool()
    def book_hotel(guest: str, card: str, ctx: Context) -> str:
        """Book a hotel (allowed with `$.card` masked by the test policy)."""
        remember("book_hotel", {"guest": guest, "card": card}, ctx)
        return f"booked for {guest}"

    @server.tool()
    def broken_tool(ctx: Context) -> str:
        """Always fails (a tool error result)."""
        remember("broken_tool", {}, ctx)
        raise ValueError("the tool broke")

    return server


def main(argv: list[str]) -> None:
    """Serve over stdio, or over streamable HTTP on the inherited socket."""
    if argv[1] == "stdio":
        build_server(Path(argv[2])).run("stdio")
        return
    listener = socket.socket(fileno=int(argv[2]))
    app = build_server(Path(argv[3])).streamable_http_app()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    anyio.run(lambda: server.serve(sockets=[listener]))


if __name__ == "__main__":
    main(sys.argv)
