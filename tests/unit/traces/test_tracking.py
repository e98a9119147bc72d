"""Tracked httpx clients, sync and async: one suite runs against both."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from opentelemetry.exporter.tracengent import attributes as A
from tests.unit.traces.conftest import ClientHarness
from tracengent import tracked_async_client, tracked_client

Handler = Callable[[httpx.Request], httpx.Response]


class NetworkDown(Exception):
    """The inner transport's own exception."""


async def send(
    harness: ClientHarness, is_async: bool, handler: Handler, url: str
) -> httpx.Response:
    """GET `url` through a tracked client (sync or async) whose inner transport is `handler`."""
    if is_async:
        async with tracked_async_client(
            harness.client, inner=httpx.MockTransport(handler)
        ) as client:
            return await client.get(url)
    with tracked_client(harness.client, inner=httpx.MockTransport(handler)) as sync_client:
        return sync_client.get(url)


@pytest.fixture(params=[False, True], ids=["sync", "async"])
def is_async(request: pytest.FixtureRequest) -> bool:
    """Run the test against the sync and the async tracked client."""
    return bool(request.param)


async def test_request_is_a_tracked_client_span(
    client_harness: ClientHarness, is_async: bool
) -> None:
    """Each request is a CLIENT span with HTTP attributes and a propagated traceparent."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    response = await send(client_harness, is_async, handler, "https://api.example/items?x=1")
    assert response.status_code == 200
    span = client_harness.span("GET api.example/items")
    attrs = span.attributes or {}
    assert span.kind is SpanKind.CLIENT
    assert attrs[A.HTTP_REQUEST_METHOD] == "GET"
    assert attrs[A.URL_FULL] == "https://api.example/items?x=1"
    assert attrs[A.SERVER_ADDRESS] == "api.example"
    assert attrs[A.HTTP_RESPONSE_STATUS_CODE] == 200
    assert attrs[A.TRACKED] is True
    assert attrs[A.EVENT_TYPE] == "tool_call"
    assert attrs[A.EVENT_NAME] == "GET api.example/items"
    assert span.context is not None
    version, trace_id, parent_id, _flags = seen[0].headers["traceparent"].split("-")
    assert (version, trace_id, parent_id) == (
        "00",
        f"{span.context.trace_id:032x}",
        f"{span.context.span_id:016x}",
    )


async def test_error_status_marks_failure(client_harness: ClientHarness, is_async: bool) -> None:
    """A response with status >= 400 marks the event failed but is returned as is."""
    response = await send(
        client_harness, is_async, lambda _: httpx.Response(503), "https://api.example/down"
    )
    assert response.status_code == 503
    span = client_harness.span("GET api.example/down")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})[A.EVENT_STATUS] == "failure"


async def test_inner_exception_propagates_unchanged(
    client_harness: ClientHarness, is_async: bool
) -> None:
    """The inner transport's exception reaches the caller untouched; the span records it."""
    error = NetworkDown("unreachable")

    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(NetworkDown) as caught:
        await send(client_harness, is_async, handler, "https://api.example/x")
    assert caught.value is error
    span = client_harness.span("GET api.example/x")
    assert span.status.status_code is StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]


async def test_request_in_trace_is_chained_event(
    client_harness: ClientHarness, is_async: bool
) -> None:
    """Inside a decision trace the request's span is an event of that trace."""
    with client_harness.client.begin_trace("fetch") as trace:
        trace.step("first")
        await send(client_harness, is_async, lambda _: httpx.Response(200), "https://a.example/")
    attrs = client_harness.span("GET a.example/").attributes or {}
    assert attrs[A.TRACE_ID] == trace.trace_id
    step = client_harness.span("first").context
    assert step is not None
    assert attrs[A.EVENT_PARENT_ID] == f"evt_{step.trace_id:032x}{step.span_id:016x}"


async def test_url_credentials_are_not_recorded(
    client_harness: ClientHarness, is_async: bool
) -> None:
    """User and password in the URL never reach the span."""
    await send(client_harness, is_async, lambda _: httpx.Response(200), "https://u:pw@h.example/p")
    attrs = client_harness.span("GET h.example/p").attributes or {}
    assert "pw" not in str(attrs[A.URL_FULL])


async def test_a_request_outside_a_trace_names_its_agent(
    client_harness: ClientHarness, is_async: bool
) -> None:
    """Outside a decision trace the span carries the client's agent id (as a decorated call's
    does), so on a provider several agents share only this agent's pipeline exports it."""
    await send(client_harness, is_async, lambda _: httpx.Response(204), "https://api.example/a")
    attrs = client_harness.span("GET api.example/a").attributes or {}
    assert attrs[A.GEN_AI_AGENT_ID] == client_harness.client.options.agent_id


async def test_sensitive_query_values_are_redacted_from_the_recorded_url(
    client_harness: ClientHarness, is_async: bool
) -> None:
    """Values of query parameters with sensitive names (`*key*`, `*token*`, ...) and OTel's
    signature parameters are recorded as `REDACTED`; the request itself is sent unchanged."""
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return httpx.Response(200)

    url = "https://api.example/v1?api_key=sk_live_1&q=shoes&access_token=t0k&Signature=s1g"
    await send(client_harness, is_async, handler, url)
    attrs = client_harness.span("GET api.example/v1").attributes or {}
    assert attrs[A.URL_FULL] == (
        "https://api.example/v1?api_key=REDACTED&q=shoes&access_token=REDACTED&Signature=REDACTED"
    )
    assert sent == [url]
