"""`wait_for_approval` carries the obligations of the pending decision it settles."""

from __future__ import annotations

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.wire import AuthObligations

from .conftest import authorizer_for, either, make_options
from .fakes import FakePlatform, decision

OBLIGATIONS = {"maxAmount": 2000, "requireApprovalOver": 250, "redactFields": ["$.note"]}


async def test_wait_for_approval_keeps_the_pending_obligations(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """authorize → pending with obligations; approved → an allow with those obligations, the
    pending decision's id and its approval id."""
    platform.on(
        "/v1/authorize",
        decision("pending_approval", approvalId="apr_1", obligations=OBLIGATIONS),
    )
    platform.on("/v1/approvals/apr_1", httpx.Response(200, json={"status": "approved"}))
    authorizer = authorizer_for(make_options(), spans[0], httpx.MockTransport(platform.handle))
    held = await either(
        mode,
        lambda: authorizer.authorize("payments:refund", {"amount": 800}),
        lambda: authorizer.authorize_async("payments:refund", {"amount": 800}),
    )
    approved = await either(
        mode,
        lambda: authorizer.wait_for_approval("payments:refund", "apr_1"),
        lambda: authorizer.wait_for_approval_async("payments:refund", "apr_1"),
    )
    assert (approved.allowed, approved.approval_id, approved.decision_id) == (
        True,
        "apr_1",
        "dec_1",
    )
    assert approved.obligations == held.obligations
    assert approved.obligations == AuthObligations(
        max_amount=2000, require_approval_over=250, redact_fields=["$.note"]
    )


async def test_an_approval_this_authorizer_never_saw_has_no_obligations(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """Waiting on an id no decision of this authorizer named allows without obligations
    (nothing is invented), and is not confused with another pending decision."""
    platform.on(
        "/v1/authorize",
        decision("pending_approval", approvalId="apr_1", obligations=OBLIGATIONS),
    )
    platform.on("/v1/approvals/apr_2", httpx.Response(200, json={"status": "approved"}))
    authorizer = authorizer_for(make_options(), spans[0], httpx.MockTransport(platform.handle))
    authorizer.authorize("payments:refund", {"amount": 800})
    approved = await either(
        mode,
        lambda: authorizer.wait_for_approval("payments:refund", "apr_2"),
        lambda: authorizer.wait_for_approval_async("payments:refund", "apr_2"),
    )
    assert (approved.allowed, approved.obligations, approved.decision_id) == (True, None, None)
