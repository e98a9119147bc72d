"""`track_llm_call(estimated_tokens=...)` authorizes `llm:call` in its trace, with or without `with`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.wire import LlmCallResult
from tests.unit.traces.conftest import platform_options
from tracengent import AgentTrace, TracengentClient, current_trace


@dataclass
class _Platform:
    """Allows every authorization and accepts every ingest; records the authorize bodies."""

    authorize_bodies: list[dict[str, object]]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/authorize":
            self.authorize_bodies.append(json.loads(request.content))
            answer = {"allowed": True, "status": "allowed", "reason": "ok", "decisionId": "dec_1"}
            return httpx.Response(200, json=answer)
        return httpx.Response(202, json={"accepted": 1})


@dataclass
class _Setup:
    client: TracengentClient
    platform: _Platform
    memory: InMemorySpanExporter

    def governance_span(self) -> ReadableSpan:
        (span,) = [
            s for s in self.memory.get_finished_spans() if A.GOVERNANCE_KIND in (s.attributes or {})
        ]
        return span


@pytest.fixture
def setup(no_global_provider: None) -> Iterator[_Setup]:
    platform = _Platform([])
    client = TracengentClient(platform_options(), transport=httpx.MockTransport(platform))
    memory = InMemorySpanExporter()
    client.tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    yield _Setup(client, platform, memory)
    client.close()


def _answer() -> LlmCallResult:
    return LlmCallResult("plan", tokens=40, model="m")


async def _answer_async() -> LlmCallResult:
    return _answer()


def _assert_authorized_in(setup: _Setup, trace: AgentTrace) -> None:
    (body,) = setup.platform.authorize_bodies
    assert body["permission"] == "llm:call"
    assert body["traceId"] == trace.trace_id
    root = trace.otel_span.get_span_context()
    span = setup.governance_span()
    assert span.context is not None
    assert span.context.trace_id == root.trace_id
    assert span.parent is not None
    assert span.parent.span_id == root.span_id
    assert span.attributes is not None
    assert span.attributes.get(A.TRACE_ID) == trace.trace_id


def test_trace_without_with_authorizes_llm_call_in_the_trace(setup: _Setup) -> None:
    """0.1.0 style (no `with`): the authorize body has the traceId, its span is the root's child."""
    trace = setup.client.begin_trace("no with")
    assert trace.track_llm_call("plan", _answer, 100) == "plan"
    assert current_trace() is None
    trace.complete("completed")
    _assert_authorized_in(setup, trace)


def test_trace_with_with_authorizes_llm_call_in_the_trace(setup: _Setup) -> None:
    """Inside `with`, the same as without it."""
    with setup.client.begin_trace("with") as trace:
        assert trace.track_llm_call("plan", _answer, 100) == "plan"
    _assert_authorized_in(setup, trace)


async def test_async_trace_without_with_authorizes_llm_call_in_the_trace(setup: _Setup) -> None:
    """The async tracker, no `async with`: authorized in the trace too."""
    trace = setup.client.begin_trace("no async with")
    value = await trace.track_llm_call_async("plan", _answer_async, estimated_tokens=100)
    assert value == "plan"
    assert current_trace() is None
    trace.complete("completed")
    _assert_authorized_in(setup, trace)


def test_other_trace_current_authorizes_in_the_trace_tracked(setup: _Setup) -> None:
    """Tracked on trace B while trace A is current: B is the one authorized."""
    other = setup.client.begin_trace("other")
    with setup.client.begin_trace("current") as current:
        assert other.track_llm_call("plan", _answer, 100) == "plan"
        assert current_trace() is current
    other.complete("completed")
    _assert_authorized_in(setup, other)
