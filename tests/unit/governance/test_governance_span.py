"""The governance span context manager: current inside, ended always, errors recorded like OTel."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode, Tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.wire import ToolDecision
from tracengent._governance._spans import governance_span, record_decision


def test_the_span_is_current_inside_and_the_previous_context_comes_back(
    spans: tuple[Tracer, InMemorySpanExporter],
) -> None:
    """Inside the block the governance span is current; after it, whatever was current before."""
    tracer, exporter = spans
    with tracer.start_as_current_span("outer") as outer:
        with governance_span(
            tracer, A.GovernanceKinds.TOOL_AUTHORIZE, "GET api", transport="http"
        ) as span:
            assert trace.get_current_span() is span
        assert trace.get_current_span() is outer
    (finished, _outer) = exporter.get_finished_spans()
    assert finished.name == "tracengent.tool_authorize GET api"
    assert finished.parent is not None
    assert finished.parent.span_id == outer.get_span_context().span_id
    assert finished.attributes is not None
    assert finished.attributes[A.GOVERNANCE_KIND] == A.GovernanceKinds.TOOL_AUTHORIZE
    assert finished.attributes[A.AUTHZ_TRANSPORT] == "http"


def test_an_exception_leaving_the_block_is_recorded_as_an_error(
    spans: tuple[Tracer, InMemorySpanExporter],
) -> None:
    """As with OTel's `start_as_current_span`: an exception event, ERROR status, span ended."""
    tracer, exporter = spans
    with (
        pytest.raises(ValueError, match="boom"),
        governance_span(tracer, A.GovernanceKinds.AUTHORIZE, "payments:refund"),
    ):
        raise ValueError("boom")
    (finished,) = exporter.get_finished_spans()
    assert finished.status.status_code is StatusCode.ERROR
    assert finished.status.description == "ValueError: boom"
    assert [event.name for event in finished.events] == ["exception"]
    assert trace.get_current_span() is trace.INVALID_SPAN


async def test_cancellation_ends_the_span_without_calling_it_an_error(
    spans: tuple[Tracer, InMemorySpanExporter],
) -> None:
    """A cancelled wait is not an error (OTel records only `Exception`s) but the span ends."""
    tracer, exporter = spans

    async def wait() -> None:
        with governance_span(tracer, A.GovernanceKinds.APPROVAL_WAIT, "payments:refund"):
            await asyncio.sleep(10)

    task = asyncio.ensure_future(wait())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (finished,) = exporter.get_finished_spans()
    assert finished.status.status_code is StatusCode.UNSET
    assert finished.events == ()


def test_a_decision_is_recorded_with_its_present_fields_only(
    spans: tuple[Tracer, InMemorySpanExporter],
) -> None:
    """Status, reason and the fields the decision has; absent ones stay unset."""
    tracer, exporter = spans
    decision = ToolDecision.from_wire(
        {"allowed": False, "status": "denied", "outcome": "policy_deny", "reason": "no"}
    )
    with governance_span(tracer, A.GovernanceKinds.TOOL_AUTHORIZE, "GET api") as span:
        record_decision(span, decision, fail_open=True)
    (finished,) = exporter.get_finished_spans()
    assert finished.attributes is not None
    recorded = {k: v for k, v in finished.attributes.items() if k.startswith("tracengent.authz.")}
    assert recorded == {
        A.AUTHZ_STATUS: "denied",
        A.AUTHZ_REASON: "no",
        A.AUTHZ_OUTCOME: "policy_deny",
        A.AUTHZ_FAIL_OPEN: True,
    }
