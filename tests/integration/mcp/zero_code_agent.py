"""An MCP agent that knows nothing of Tracengent: run under `opentelemetry-instrument`.

It opens its decision trace the GenAI way (an `invoke_agent` span), starts the test MCP server
over stdio and calls the tools named in argv (each `name=json-arguments`). argv[1] is the file
the server records its calls in. Prints one line per call: the result text or the exception.
"""

import asyncio
import json
import sys
from pathlib import Path

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from opentelemetry import trace

SERVER = Path(__file__).with_name("mcp_server.py")

tracer = trace.get_tracer("sample-mcp-agent")


async def call_tools(record: str, calls: list[str]) -> None:
    params = StdioServerParameters(command=sys.executable, args=[str(SERVER), "stdio", record])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        for call in calls:
            name, _, arguments = call.partition("=")
            try:
                result = await session.call_tool(name, json.loads(arguments))
                print(f"{name} -> {result.content[0].text}")  # type: ignore[union-attr]  # noqa: T201
            except Exception as exc:  # noqa: BLE001 - the agent reports a refused call, goes on
                print(f"{name} -> {type(exc).__name__}: {exc}")  # noqa: T201


def main() -> None:
    record, *calls = sys.argv[1:]
    with tracer.start_as_current_span(
        "invoke_agent trip-bot",
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "trip-bot",
            "tracengent.trace.root_request": "plan a trip",
        },
    ):
        asyncio.run(call_tools(record, calls))


if __name__ == "__main__":
    main()
