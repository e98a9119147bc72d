"""`wait_for_approval` never raises, whatever it is handed as the approval id."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from .conftest import authorizer_for, either, make_options
from .fakes import FakePlatform


@pytest.mark.parametrize("approval_id", [["apr_1"], {"id": "apr_1"}, {"apr_1"}], ids=repr)
async def test_an_unhashable_approval_id_is_a_deny_not_a_type_error(
    mode: str,
    platform: FakePlatform,
    spans: tuple[Tracer, InMemorySpanExporter],
    approval_id: object,
) -> None:
    """A list or dict as the id names no approval: a deny, nothing polled, nothing raised."""
    platform.on("/v1/approvals/apr_1", httpx.Response(200, json={"status": "approved"}))
    authorizer = authorizer_for(make_options(), spans[0], httpx.MockTransport(platform.handle))
    decision = await either(
        mode,
        lambda: authorizer.wait_for_approval("payments:refund", approval_id),  # type: ignore[arg-type]
        lambda: authorizer.wait_for_approval_async("payments:refund", approval_id),  # type: ignore[arg-type]
    )
    assert not decision.allowed
    assert decision.status == "denied"
    assert "names no approval" in decision.reason
    assert platform.requests == []
