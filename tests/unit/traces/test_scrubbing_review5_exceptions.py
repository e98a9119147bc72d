"""Review 5: a failed call's `exception` event (every exporter of the application gets it) held
the credentials its message named: a URL's query key or userinfo, a password or header."""

from __future__ import annotations

import contextlib
import json

import httpx
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry.exporter.tracengent import attributes as A
from tests.unit.traces.conftest import ClientHarness
from tracengent._governance._spans import governance_span


def _exception_event(span: ReadableSpan) -> dict[str, object]:
    (event,) = [e for e in span.events if e.name == "exception"]
    return dict(event.attributes or {})


def test_a_failed_tracked_calls_exception_loses_the_credentials_it_names(
    client_harness: ClientHarness,
) -> None:
    """A tracked call failing with the URL it called (`?api_key=`, userinfo) or a secret named
    in its message recorded them whole in the `exception` event every exporter of the
    application gets: its message and stacktrace now lose them as recorded URLs and payload
    keys do."""
    client = client_harness.client
    url = "https://bob:pw-in-url@api.example.com/v1/rates?api_key=sk-live-1&city=Oslo"

    def call() -> None:
        request = httpx.Request("GET", url)
        response = httpx.Response(401, request=request)
        raise httpx.HTTPStatusError(
            f"Client error for url '{url}'", request=request, response=response
        )

    def login() -> None:
        raise ValueError(
            "login failed: {'user': 'bob', 'password': 'hunter2'}; Authorization: Bearer abc.def"
        )

    with client.begin_trace("rates") as trace, contextlib.suppress(Exception):
        trace.track_tool_call("rates", call)
    with contextlib.suppress(ValueError), client.begin_trace("login") as trace:
        trace.track_action("login", login)
    for name in ("rates", "login"):
        event = _exception_event(client_harness.span(name))
        text = json.dumps(event)
        for secret in ("sk-live-1", "pw-in-url", "hunter2", "abc.def"):
            assert secret not in text, (name, secret, text)
    rates = _exception_event(client_harness.span("rates"))
    assert rates["exception.type"] == "httpx.HTTPStatusError"
    assert "https://api.example.com/v1/rates?api_key=REDACTED&city=Oslo" in str(
        rates["exception.message"]
    )
    login_event = _exception_event(client_harness.span("login"))
    assert str(login_event["exception.message"]).startswith("login failed: {'user': 'bob', ")
    (root,) = [
        s
        for s in client_harness.memory.get_finished_spans()
        if s.name.startswith("invoke_agent")
        and "login" in str((s.attributes or {}).get(A.TRACE_ROOT_REQUEST))
    ]
    assert "hunter2" not in json.dumps(_exception_event(root))


def test_a_governance_spans_exception_and_status_lose_the_credentials_they_name() -> None:
    """An exception leaving a governance span (an egress gate's send, an attenuation) was
    recorded, and written in the span's status description, with the URL key it named."""
    provider = TracerProvider()
    mine = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(mine))
    url = "https://api.example.com/v1/refunds?access_token=tok-1"
    with (
        contextlib.suppress(httpx.ConnectError),
        governance_span(provider.get_tracer("test"), A.GovernanceKinds.TOOL_AUTHORIZE, "refund"),
    ):
        raise httpx.ConnectError(f"cannot reach {url}")
    (span,) = mine.get_finished_spans()
    assert "tok-1" not in json.dumps(_exception_event(span))
    assert span.status.description == (
        "ConnectError: cannot reach https://api.example.com/v1/refunds?access_token=REDACTED"
    )
    provider.shutdown()
