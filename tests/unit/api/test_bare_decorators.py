"""`@client.tool` / `@trace.action` written without parentheses decorate the function, as
`@client.tool()` does, instead of silently replacing it with a decorator."""

from __future__ import annotations

import json

from opentelemetry.exporter.tracengent import attributes as A
from tests.unit.traces.conftest import ClientHarness, Harness


def test_bare_client_decorators(client_harness: ClientHarness) -> None:
    """The decorated functions return their results and each call is an event named after them."""
    client = client_harness.client

    @client.tool
    def lookup(key: str) -> str:
        return key.upper()

    @client.action
    def pay(amount: int) -> int:
        return amount

    assert lookup("k") == "K"
    assert pay(3) == 3
    tool_span, action_span = client_harness.span("lookup"), client_harness.span("pay")
    assert (tool_span.attributes or {})[A.EVENT_TYPE] == "tool_call"
    assert (action_span.attributes or {})[A.EVENT_TYPE] == "action"
    assert json.loads(str((action_span.attributes or {})[A.INPUT])) == {"amount": 3}


async def test_bare_trace_decorators(harness: Harness) -> None:
    """The same on a trace, for a coroutine function too."""
    with harness.begin() as trace:

        @trace.tool
        async def search(query: str) -> list[str]:
            return [query]

        @trace.action
        def book(seat: str) -> str:
            return seat

        assert await search("q") == ["q"]
        assert book("1A") == "1A"
    assert harness.attr("search", A.EVENT_TYPE) == "tool_call"
    assert harness.attr("search", A.TRACE_ID) == trace.trace_id
    assert harness.attr("book", A.OUTPUT) == '"1A"'
