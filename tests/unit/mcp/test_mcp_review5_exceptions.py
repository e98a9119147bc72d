"""A failed MCP tool call records its exception through the payload hook's scrubbing: a URL's
credentials or a password in the message never reach an exporter (as a tracked call's)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from opentelemetry.instrumentation.tracengent_mcp._flow import ToolCallState, call_tool_traced
from tracengent._mcp import MCPPayloadWriter
from tracengent._scrubbing import Scrubber

SECRET = "s3cr3t-value"


class ToolFailed(Exception):
    """What a tool's client raises, naming what it was given."""


async def failing_call(*args: Any, **kwargs: Any) -> object:
    raise ToolFailed(f"GET https://api.example.com/v1/x?api_key={SECRET} failed: password={SECRET}")


def traced_failure(payload_hook: MCPPayloadWriter | None) -> tuple[InMemorySpanExporter, str]:
    """Run one failing traced call; the exporter and the exception's own text."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    state = ToolCallState(provider.get_tracer("test"), None, payload_hook)
    with pytest.raises(ToolFailed) as raised:
        asyncio.run(call_tool_traced(state, failing_call, ("search", {"q": "x"}), {}))
    provider.shutdown()
    return exporter, str(raised.value)


def test_a_failed_calls_exception_loses_the_credentials_it_names() -> None:
    """With the SDK's hook: the exception event and the status name no credential, the
    exception itself reaches the caller untouched, and the rest of the message is kept."""
    exporter, message = traced_failure(MCPPayloadWriter(Scrubber()))
    assert SECRET in message  # the caller's exception is its own
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert SECRET not in (span.status.description or "")
    (event,) = [e for e in span.events if e.name == "exception"]
    recorded = dict(event.attributes or {})
    assert recorded["exception.type"].endswith("ToolFailed")  # type: ignore[union-attr]
    for key in ("exception.message", "exception.stacktrace"):
        assert SECRET not in str(recorded[key]), key
    assert "api.example.com/v1/x" in str(recorded["exception.message"])
    assert (span.attributes or {})["error.type"] == "ToolFailed"


def test_without_a_hook_the_exception_is_recorded_as_otel_records_it() -> None:
    """The instrumentation alone (no Tracengent hook) keeps OTel's own recording."""
    exporter, message = traced_failure(None)
    (span,) = exporter.get_finished_spans()
    (event,) = [e for e in span.events if e.name == "exception"]
    assert (event.attributes or {})["exception.message"] == message


class FailingHook(MCPPayloadWriter):
    """A payload hook whose exception scrubbing fails."""

    def exception_attributes(self, error: BaseException) -> dict[str, str]:
        raise RuntimeError("the hook failed")


def test_a_failing_hooks_exception_names_only_the_type() -> None:
    """When the hook's `exception_attributes` fails, only the exception's type is recorded: the
    stacktrace (OTel's default, holding the message) named the credentials too."""
    exporter, _ = traced_failure(FailingHook(Scrubber()))
    (span,) = exporter.get_finished_spans()
    (event,) = [e for e in span.events if e.name == "exception"]
    recorded = dict(event.attributes or {})
    for key in ("exception.message", "exception.stacktrace"):
        assert SECRET not in str(recorded[key]), key
    assert SECRET not in (span.status.description or "")
