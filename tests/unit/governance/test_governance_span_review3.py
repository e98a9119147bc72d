"""A span processor that raises never changes a governance decision (review 3).

The application's own span processor (a buggy exporter pipeline, a processor raising in `on_start`
or `on_end`) ran inside `GovernanceSpan`, so `authorize`, the gates and the FastAPI dependency
raised `RuntimeError` after the platform had decided. Telemetry never raises into the agent:
the decision is returned as the platform gave it, and an exception of the block still leaves it.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.options import TracengentOptions
from tests.support.broken_processor import BrokenProcessor
from tracengent import TracengentClient
from tracengent._governance._spans import governance_span

ALLOW = {"allowed": True, "status": "allowed", "reason": "ok", "decisionId": "dec_1"}
TOKEN = {"access_token": "a.b.c", "token_type": "Bearer", "expires_in": 900}


@pytest.fixture(params=[(True, False), (False, True), (True, True)], ids=["start", "end", "both"])
def broken_provider(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TracerProvider]:
    provider = TracerProvider(shutdown_on_exit=False)
    start, end = request.param
    provider.add_span_processor(BrokenProcessor(on_start=start, on_end=end))
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", provider)
    yield provider
    provider.shutdown()


def test_the_block_runs_and_its_own_exception_leaves(broken_provider: TracerProvider) -> None:
    tracer = broken_provider.get_tracer("t")
    ran = []
    with governance_span(tracer, A.GovernanceKinds.AUTHORIZE, "payments:refund"):
        ran.append(True)
    assert ran == [True]
    with (
        pytest.raises(ValueError, match="the block's"),
        governance_span(tracer, A.GovernanceKinds.AUTHORIZE, "payments:refund"),
    ):
        raise ValueError("the block's")
    assert otel_trace.get_current_span() is otel_trace.INVALID_SPAN


def _platform(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/v1/oauth/token":
        return httpx.Response(200, json=TOKEN)
    if request.url.path == "/v1/authorize":
        return httpx.Response(200, json=ALLOW)
    return httpx.Response(200, json={})


async def test_authorize_returns_the_platform_decision(broken_provider: TracerProvider) -> None:
    options = TracengentOptions(
        agent_id="billing-agent", client_id="key_test", client_secret="ags_test"
    )
    client = TracengentClient(options, transport=httpx.MockTransport(_platform))
    try:
        decision = client.authorize("payments:refund")
        assert (decision.allowed, decision.decision_id) == (True, "dec_1")
        client.ensure_authorized("payments:refund")
        decision = await client.authorize_async("payments:refund")
        assert decision.allowed
    finally:
        client.close(timeout=1.0)
