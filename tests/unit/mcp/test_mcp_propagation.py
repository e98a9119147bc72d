"""Trace context in `params._meta`: injection on the client, extraction on the server, and the
flow's handling of the application's own exception."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from opentelemetry.instrumentation.tracengent_mcp import (
    extract_context,
    inject_context,
    joined_trace,
)
from opentelemetry.instrumentation.tracengent_mcp._flow import ToolCallState, call_tool_traced

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
SPAN_ID = 0xB7AD6B7169203331
TRACEPARENT = f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-01"


class ToolBroke(Exception):
    """The application's own failure inside call_tool."""


def remote_parent() -> trace.Span:
    """A span standing for the agent's execute_tool span."""
    return NonRecordingSpan(
        SpanContext(TRACE_ID, SPAN_ID, is_remote=False, trace_flags=TraceFlags(1))
    )


def test_inject_adds_traceparent_to_a_copy() -> None:
    """The current span's traceparent is added to a copy; the given `_meta` is untouched."""
    given: dict[str, object] = {"tenant": "acme"}
    with trace.use_span(remote_parent()):
        meta = inject_context(given)
    assert meta == {"tenant": "acme", "traceparent": TRACEPARENT}
    assert given == {"tenant": "acme"}


def test_inject_outside_any_span_leaves_meta_absent() -> None:
    """With nothing to propagate, a missing `_meta` stays missing."""
    assert inject_context(None) is None


def test_extract_reads_the_callers_span() -> None:
    """A valid traceparent becomes the remote parent of the returned context."""
    context = extract_context({"traceparent": TRACEPARENT, "other": 3})
    parent = trace.get_current_span(context).get_span_context()
    assert (parent.trace_id, parent.span_id, parent.is_remote) == (TRACE_ID, SPAN_ID, True)


@pytest.mark.parametrize(
    "meta", [None, {}, {"traceparent": "garbage"}, {"traceparent": 42}, {"traceparent": ["x"]}]
)
def test_extract_without_a_valid_traceparent_keeps_the_current_context(
    meta: dict[str, object] | None,
) -> None:
    """Missing or malformed trace context leaves the current span as the parent."""
    with trace.use_span(remote_parent()):
        context = extract_context(meta)
    assert trace.get_current_span(context).get_span_context().span_id == SPAN_ID


def test_joined_trace_parents_server_spans_and_detaches_after() -> None:
    """A span started inside `joined_trace` is a child of the caller's span; after, it is gone."""
    provider = TracerProvider()
    tracer = provider.get_tracer("server")
    with (
        joined_trace({"traceparent": TRACEPARENT}),
        tracer.start_as_current_span("handler") as span,
    ):
        assert span.get_span_context().trace_id == TRACE_ID
        assert isinstance(span, SdkSpan)
        assert span.parent is not None
        assert span.parent.span_id == SPAN_ID
    assert not trace.get_current_span().get_span_context().is_valid
    provider.shutdown()


async def test_application_exception_is_reraised_untouched() -> None:
    """What the wrapped call_tool raises reaches the caller as the very same object."""
    provider = TracerProvider()
    state = ToolCallState(provider.get_tracer("t"), None, None)
    raised = ToolBroke("connection lost")

    async def call_tool(*args: Any, **kwargs: Any) -> Any:
        raise raised

    with pytest.raises(ToolBroke) as caught:
        await call_tool_traced(state, call_tool, ("echo", {"text": "x"}), {})
    assert caught.value is raised
    provider.shutdown()


async def test_positional_arguments_are_replaced_by_the_gates() -> None:
    """Arguments given positionally are swapped for the gate's answer, the rest kept."""
    provider = TracerProvider()

    class Redacting:
        async def check_async(self, tool: str, arguments: object) -> dict[str, object]:
            return {"card": "***"}

    state = ToolCallState(provider.get_tracer("t"), Redacting(), None)
    received: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    async def call_tool(*args: Any, **kwargs: Any) -> str:
        received.append((args, kwargs))
        return "ok"

    assert await call_tool_traced(state, call_tool, ("pay", {"card": "4111"}, 5.0), {}) == "ok"
    ((args, kwargs),) = received
    assert args == ("pay", {"card": "***"}, 5.0)
    assert "traceparent" in kwargs["meta"]
    provider.shutdown()


async def test_governed_call_that_cannot_be_authorized_is_not_sent() -> None:
    """With a gate, arguments that are not a mapping raise before anything is sent."""
    provider = TracerProvider()

    class Allowing:
        async def check_async(self, tool: str, arguments: object) -> object:
            return arguments

    state = ToolCallState(provider.get_tracer("t"), Allowing(), None)  # type: ignore[arg-type]
    sent: list[object] = []

    async def call_tool(*args: Any, **kwargs: Any) -> str:
        sent.append(args)
        return "ok"

    with pytest.raises(TypeError):
        await call_tool_traced(state, call_tool, ("pay", ["not", "a", "mapping"]), {})
    assert sent == []
    provider.shutdown()


async def test_no_meta_keyword_is_passed_to_an_sdk_without_one() -> None:
    """A `call_tool` without a `meta` parameter is called without one."""
    provider = TracerProvider()
    state = ToolCallState(provider.get_tracer("t"), None, None)
    received: list[dict[str, Any]] = []

    async def call_tool(*args: Any, **kwargs: Any) -> str:
        received.append(kwargs)
        return "ok"

    await call_tool_traced(state, call_tool, ("echo",), {}, accepts_meta=False)
    assert received == [{}]
    provider.shutdown()
