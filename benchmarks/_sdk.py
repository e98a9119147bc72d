"""The Tracengent side of the benchmarks: clients that never leave the machine, and the events.

Imported by each case when it runs, so a missing SDK piece shows up as that case being
"not available" (an `ImportError`/`AttributeError`), never as a stub.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import Final

import httpx

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from tracengent import (
    Actor,
    AgentEvent,
    AgentTrace,
    EventStatuses,
    EventTypes,
    LlmCallResult,
    Money,
    TracengentClient,
    TracengentOptions,
)

__all__ = [
    "EVENT_OPERATIONS",
    "MockPlatform",
    "bench_options",
    "disabled_sdk",
    "mixed_events",
    "new_client",
    "record",
    "step",
    "track_action",
    "track_llm_call",
    "track_tool_call",
]

INPUT: Final[JsonObject] = {"orderId": "ord_1042", "amount": 42.5, "reason": "damaged"}
OUTPUT: Final[JsonObject] = {"refundId": "rf_77", "status": "issued"}
COST: Final = Money(42.5, "USD")
_ACTOR: Final = Actor("u_7")
# Discard port: a client built on MockPlatform never connects, but needs a base URL.
_NOWHERE: Final = "http://127.0.0.1:9"


def _output() -> JsonObject:
    return OUTPUT


def _llm_result() -> LlmCallResult:
    return LlmCallResult(OUTPUT, 120, model="gpt-bench", cost=COST)


def track_action(trace: AgentTrace) -> None:
    """An action with cost and input; its return value is the output (actor: the trace's)."""
    trace.track_action("issue-refund", _output, input=INPUT, cost=COST)


def track_tool_call(trace: AgentTrace) -> None:
    """A tool call with input and output."""
    trace.track_tool_call("lookup-order", _output, input=INPUT)


def track_llm_call(trace: AgentTrace) -> None:
    """An LLM call with input, output, tokens, model and cost (no budget authorization)."""
    trace.track_llm_call("plan-refund", _llm_result, input=INPUT)


def step(trace: AgentTrace) -> None:
    """A reasoning step with attributes (a point event)."""
    trace.step("refund is within policy", {"rule": "refunds<100", "confidence": 0.92})


def record(trace: AgentTrace) -> None:
    """A user-built event with cost, actor, input and output (a point event)."""
    trace.record(
        AgentEvent(
            name="notify-customer",
            type=EventTypes.ACTION,
            status=EventStatuses.SUCCESS,
            cost=COST,
            actor=_ACTOR,
            input=INPUT,
            output=OUTPUT,
        )
    )


EVENT_OPERATIONS: Final[dict[str, Callable[[AgentTrace], None]]] = {
    "track_action": track_action,
    "track_tool_call": track_tool_call,
    "track_llm_call": track_llm_call,
    "step": step,
    "record": record,
}


def mixed_events(trace: AgentTrace, count: int) -> int:
    """Record `count` events cycling through the five operations; returns `count`."""
    operations = list(EVENT_OPERATIONS.values())
    for index in range(count):
        operations[index % len(operations)](trace)
    return count


def bench_options(base_url: str = _NOWHERE, **overrides: object) -> TracengentOptions:
    """The built-in demo agent's credentials against `base_url`."""
    settings: dict[str, object] = {
        "agent_id": "demo-agent",
        "base_url": base_url,
        "client_id": "key_demo",
        "client_secret": "ags_demo",
    }
    settings.update(overrides)
    return TracengentOptions(**settings)  # type: ignore[arg-type]


_TOKEN_BODY: Final = (
    b'{"access_token":"eyJhbGciOiJub25lIn0.eyJzdWIiOiJkZW1vLWFnZW50IiwicGVybWlzc2lvbnMiOlsiKiJdfQ'
    b'.c2ln","token_type":"Bearer","expires_in":900}'
)


class MockPlatform:
    """An in-process platform for `httpx.MockTransport`: 200 to everything, counting requests.

    `hold()` makes ingest requests wait (bounded) until `release()`, so spans stay buffered.
    """

    def __init__(self) -> None:
        self.requests = 0
        self._open = threading.Event()
        self._open.set()
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if request.url.path == "/v1/oauth/token":
            return httpx.Response(200, content=_TOKEN_BODY)
        self._open.wait(60.0)
        return httpx.Response(200, content=b"{}")

    def hold(self) -> None:
        """Make ingest requests wait."""
        self._open.clear()

    def release(self) -> None:
        """Let held and later requests through."""
        self._open.set()


@contextlib.contextmanager
def disabled_sdk() -> Iterator[None]:
    """`OTEL_SDK_DISABLED=true` while a client is built (its provider then hands out no-op
    tracers); the previous value is restored."""
    previous = os.environ.get("OTEL_SDK_DISABLED")
    os.environ["OTEL_SDK_DISABLED"] = "true"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["OTEL_SDK_DISABLED"]
        else:
            os.environ["OTEL_SDK_DISABLED"] = previous


def new_client(platform: MockPlatform, **overrides: object) -> TracengentClient:
    """A client whose every platform call is answered in-process by `platform`."""
    return TracengentClient(bench_options(_NOWHERE, **overrides), transport=platform.transport)
