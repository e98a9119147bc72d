"""Fail closed on the network: a closed port, a stalled answer, a cancelled approval wait."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent import attributes as A
from tests.support.loopback import Received, Reply, json_reply, serve

from .conftest import authorizer_for, either, governance_spans, make_options
from .fakes import FakePlatform, decision, make_jwt


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def stalled_platform() -> Iterator[str]:
    """A loopback platform that issues tokens but never answers /v1/authorize in time."""
    release = threading.Event()

    def responder(received: Received) -> Reply:
        if received.path == "/v1/oauth/token":
            token = make_jwt({"permissions": ["*"]})
            return json_reply({"access_token": token, "token_type": "Bearer", "expires_in": 900})
        release.wait(30)
        return json_reply({"allowed": True, "status": "allowed", "reason": "late"})

    with serve(responder) as server:
        try:
            yield server.url
        finally:
            release.set()


async def test_closed_port_denies_as_unreachable(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """A platform nobody listens for is a deny saying it is unreachable."""
    authorizer = authorizer_for(make_options(_closed_port_url()), spans[0], None)
    result = await either(
        mode,
        lambda: authorizer.authorize("payments:refund"),
        lambda: authorizer.authorize_async("payments:refund"),
    )
    assert not result.allowed
    assert result.reason.startswith("platform unreachable"), result.reason


async def test_stalled_answer_past_the_deadline_denies_as_timed_out(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], stalled_platform: str
) -> None:
    """An answer that does not come before `governance_timeout_s` is a deny saying it timed out."""
    options = make_options(stalled_platform, governance_timeout_s=0.3)
    authorizer = authorizer_for(options, spans[0], None)
    result = await either(
        mode,
        lambda: authorizer.authorize("payments:refund"),
        lambda: authorizer.authorize_async("payments:refund"),
    )
    assert not result.allowed
    assert result.reason == "platform timed out"
    (span,) = governance_spans(spans[1], A.GovernanceKinds.AUTHORIZE)
    assert span.attributes is not None
    assert span.attributes[A.AUTHZ_REASON] == "platform timed out"


async def test_cancelling_an_async_approval_wait_leaves_nothing_behind(
    spans: tuple[Tracer, InMemorySpanExporter],
) -> None:
    """A cancelled wait propagates the cancellation, ends its span and leaves no task running."""
    platform = FakePlatform()
    platform.on("/v1/authorize", decision("pending_approval", approvalId="apr_9"))
    polled = asyncio.Event()

    def pending(request: httpx.Request) -> httpx.Response:
        polled.set()
        return httpx.Response(200, json={"status": "pending"})

    platform.on("/v1/approvals/apr_9", pending)
    authorizer = authorizer_for(
        make_options(approval_poll_interval_s=0.01, approval_timeout_s=60),
        spans[0],
        httpx.MockTransport(platform.handle),
    )
    waiting = asyncio.create_task(authorizer.ensure_authorized_async("payments:refund"))
    await polled.wait()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert asyncio.all_tasks() == {asyncio.current_task()}
    (wait_span,) = governance_spans(spans[1], A.GovernanceKinds.APPROVAL_WAIT)
    assert wait_span.end_time is not None
