"""Decorators on sync and async functions, bound to a trace or resolving it at call time."""

from __future__ import annotations

import asyncio
import json

import pytest
from opentelemetry.trace import StatusCode

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.wire import Money
from tests.unit.traces.conftest import AGENT_ID, Harness
from tracengent._decorators import client_decorator


class ToolBroke(Exception):
    """The tool's own exception."""


def test_trace_tool_decorator_sync(harness: Harness) -> None:
    """@trace.tool records each call with its arguments as input and result as output."""
    with harness.begin() as trace:

        @trace.tool("weather")
        def weather(city: str, *, unit: str = "C") -> dict[str, object]:
            return {"city": city, "t": 21}

        assert weather("Porto", unit="F") == {"city": "Porto", "t": 21}
    assert weather.__name__ == "weather"
    assert harness.attr("weather", A.EVENT_TYPE) == "tool_call"
    assert json.loads(str(harness.attr("weather", A.INPUT))) == {"city": "Porto", "unit": "F"}
    assert json.loads(str(harness.attr("weather", A.OUTPUT))) == {"city": "Porto", "t": 21}


async def test_trace_action_decorator_async(harness: Harness) -> None:
    """@trace.action on a coroutine function awaits it and records cost and output."""
    async with harness.begin() as trace:

        @trace.action(cost=Money.usd(2))
        async def pay(amount: int) -> str:
            return f"paid {amount}"

        assert await pay(3) == "paid 3"
    assert harness.attr("pay", A.EVENT_TYPE) == "action"
    assert harness.attr("pay", A.COST_AMOUNT) == 2.0
    assert harness.attr("pay", A.TRACE_ID) == trace.trace_id


@pytest.mark.parametrize("is_async", [False, True])
async def test_decorated_failure_propagates_unchanged(harness: Harness, is_async: bool) -> None:
    """A decorated function's exception marks the event failed and reaches the caller as is."""
    error = ToolBroke("no")
    decorate = client_decorator(harness.recorder, A.EventTypes.TOOL_CALL, "t", None)

    @decorate
    def sync_tool() -> None:
        raise error

    @decorate
    async def async_tool() -> None:
        raise error

    with pytest.raises(ToolBroke) as caught:
        await (async_tool() if is_async else asyncio.to_thread(sync_tool))
    assert caught.value is error
    assert harness.span("t").status.status_code is StatusCode.ERROR


def test_client_decorator_records_in_current_trace_or_standalone(harness: Harness) -> None:
    """A client decorator joins the trace current at call time, else records standalone."""

    @client_decorator(harness.recorder, A.EventTypes.TOOL_CALL, None, None)
    def lookup(key: str) -> str:
        return key.upper()

    assert lookup("outside") == "OUTSIDE"
    with harness.begin() as trace:
        lookup("inside")
    standalone, in_trace = [s for s in harness.spans() if s.name == "lookup"]
    assert A.TRACE_ID not in (standalone.attributes or {})
    assert (standalone.attributes or {})[A.GEN_AI_AGENT_ID] == AGENT_ID
    assert (in_trace.attributes or {})[A.TRACE_ID] == trace.trace_id


def test_method_decorator_leaves_self_out_of_input(harness: Harness) -> None:
    """Decorating a method records its arguments without `self`."""
    decorate = client_decorator(harness.recorder, A.EventTypes.ACTION, "method", None)

    class Agent:
        @decorate
        def act(self, n: int) -> int:
            return n * 2

    assert Agent().act(4) == 8
    assert json.loads(str(harness.attr("method", A.INPUT))) == {"n": 4}
