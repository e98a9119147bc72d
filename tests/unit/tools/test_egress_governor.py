"""EgressGovernor: what it asks the platform, and what it lets leave (sync and async alike)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import cast

import httpx
import pytest

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.errors import (
    AgentDisabledError,
    MalformedResponseError,
    PlatformRejectedError,
    PlatformUnavailableError,
    ToolDeniedException,
    ToolPendingApprovalException,
)
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.instrumentation.tracengent_httpx import AsyncGatedTransport, GatedTransport
from tests.unit.tools.stubs import (
    ALLOW,
    DENY,
    MALFORMED,
    PENDING,
    Answer,
    AsyncScriptedPlatform,
    ScriptedPlatform,
    SpanRecorder,
    allow_redacting,
)
from tracengent._governance.egress import EgressGovernor, is_governed_host
from tracengent._state import CURRENT_TRACE
from tracengent._trace import AgentTrace

URL = "https://api.example.com/v1/refunds"


class Harness:
    """A governor over a scripted platform, driven through the sync or the async shell."""

    def __init__(
        self, mode: str, answer: Answer, *, fail_open: bool = False, timeout_s: float = 5.0
    ) -> None:
        self.mode = mode
        self.platform = ScriptedPlatform(answer)
        self.spans = SpanRecorder()
        self.clock_now = 0.0
        self.governor = EgressGovernor(
            TracengentOptions(
                agent_id="agent",
                ingest_key="agk_x",
                governed_hosts=["api.example.com"],
                tool_governance_fail_open=fail_open,
                governance_timeout_s=timeout_s,
            ),
            platform=self.platform,
            async_platform=AsyncScriptedPlatform(self.platform),
            tracer=self.spans.tracer,
            clock=lambda: self.clock_now,
        )

    async def check(self, request: httpx.Request) -> httpx.Request:
        if self.mode == "sync":
            return self.governor.check(request)
        return await self.governor.check_async(request)

    @property
    def sent(self) -> dict[str, object]:
        assert len(self.platform.requests) == 1
        return dict(self.platform.requests[0])


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _post(
    body: bytes = b'{"amount":10,"card":"4242"}', headers: dict[str, str] | None = None
) -> httpx.Request:
    return httpx.Request(
        "POST", URL, content=body, headers={"Content-Type": "application/json", **(headers or {})}
    )


async def test_allowed_request_is_returned_as_is(mode: str) -> None:
    """An allow without redactions sends the very request the application built."""
    harness = Harness(mode, dict(ALLOW))
    request = _post()
    assert await harness.check(request) is request
    assert harness.sent == {
        "transport": "http",
        "method": "POST",
        "host": "api.example.com",
        "path": "/v1/refunds",
        "headers": {k: v for k, v in request.headers.items()},
        "body": {"amount": 10, "card": "4242"},
    }


async def test_denied_request_raises_tool_denied(mode: str) -> None:
    """A deny raises ToolDeniedException with the platform's reason, permission and outcome."""
    harness = Harness(mode, dict(DENY))
    with pytest.raises(ToolDeniedException) as caught:
        await harness.check(_post())
    assert (caught.value.reason, caught.value.permission, caught.value.outcome) == (
        "host not allowed",
        "payments:refund",
        "egress_deny",
    )


async def test_pending_request_raises_pending_approval(mode: str) -> None:
    """A pending decision raises ToolPendingApprovalException carrying the approval id."""
    harness = Harness(mode, dict(PENDING))
    with pytest.raises(ToolPendingApprovalException) as caught:
        await harness.check(_post())
    assert caught.value.approval_id == "apr_7"


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (MALFORMED, "malformed_decision"),
        (PlatformUnavailableError("connection refused"), "platform_unavailable"),
        (PlatformRejectedError("forbidden", status_code=403), "platform_rejected"),
        (AgentDisabledError("disabled"), "agent_disabled"),
        (MalformedResponseError("not json"), "malformed_decision"),
        (RuntimeError("bug"), "sdk_error"),
    ],
)
async def test_failures_fail_closed(mode: str, answer: Answer, outcome: str) -> None:
    """Malformed answers and every platform failure deny, with an outcome naming which."""
    harness = Harness(mode, answer)
    with pytest.raises(ToolDeniedException) as caught:
        await harness.check(_post())
    assert caught.value.outcome == outcome
    assert harness.governor.fail_open_count == 0


async def test_fail_open_passes_only_for_an_unavailable_platform(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """With fail-open chosen, an unavailable platform lets the request through, marked and counted."""
    harness = Harness(mode, PlatformUnavailableError("timed out"), fail_open=True)
    request = _post()
    with caplog.at_level(logging.WARNING, logger="tracengent.governance.egress"):
        assert await harness.check(request) is request
        assert await harness.check(_post()) is not None
    assert harness.governor.fail_open_count == 2
    assert len([r for r in caplog.records if "failed open" in r.getMessage()]) == 1
    spans = harness.spans.governance()
    assert [s.attributes[A.AUTHZ_FAIL_OPEN] for s in spans if s.attributes] == [True, True]


async def test_fail_open_warning_repeats_after_the_interval(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The fail-open warning is rate-limited, not silenced: it repeats once the interval passed."""
    harness = Harness(mode, PlatformUnavailableError("down"), fail_open=True)
    with caplog.at_level(logging.WARNING, logger="tracengent.governance.egress"):
        await harness.check(_post())
        harness.clock_now = 61.0
        await harness.check(_post())
    assert len([r for r in caplog.records if "failed open" in r.getMessage()]) == 2


@pytest.mark.parametrize(
    "answer",
    [
        PlatformRejectedError("unauthorized", status_code=401),
        PlatformRejectedError("forbidden", status_code=403),
        AgentDisabledError("disabled"),
        MalformedResponseError("garbage"),
        DENY,
        MALFORMED,
    ],
    ids=["401", "403", "disabled", "malformed-response", "deny", "malformed-decision"],
)
async def test_fail_open_never_opens_for_refusals(mode: str, answer: Answer) -> None:
    """Fail-open does not let 401/403, a disabled agent, a deny or nonsense through."""
    harness = Harness(mode, answer, fail_open=True)
    with pytest.raises(ToolDeniedException):
        await harness.check(_post())
    assert harness.governor.fail_open_count == 0


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [("remove", b'{"amount":10}'), ("mask", b'{"amount":10,"card":"***REDACTED***"}')],
)
async def test_redactions_rebuild_the_body_and_length(
    mode: str, strategy: str, expected: bytes
) -> None:
    """Allowed with redactions: the returned request carries the redacted bytes and their length."""
    harness = Harness(mode, allow_redacting("$.card", strategy))
    sent = await harness.check(_post())
    assert sent.content == expected
    assert sent.headers["Content-Length"] == str(len(expected))
    assert (sent.method, str(sent.url)) == ("POST", URL)


async def test_redactions_change_the_request_itself(mode: str) -> None:
    """The request httpx handed the gate is redacted in place (body, stream, length): what httpx
    later builds from it, a redirect or an event hook's view, never holds the secret."""
    harness = Harness(mode, allow_redacting("$.card", "mask"))
    request = _post()
    sent = await harness.check(request)
    expected = b'{"amount":10,"card":"***REDACTED***"}'
    assert sent is request
    assert request.content == expected
    assert b"".join(cast("httpx.ByteStream", request.stream)) == expected
    assert request.headers["Content-Length"] == str(len(expected))


def _post_following_redirects(
    harness: Harness, world: Callable[[httpx.Request], httpx.Response], body: dict[str, object]
) -> httpx.Response:
    transport = GatedTransport(httpx.MockTransport(world), harness.governor)
    with httpx.Client(transport=transport, follow_redirects=True) as http:
        return http.post(URL, json=body)


@pytest.mark.parametrize("status", [307, 308])
async def test_a_body_keeping_redirect_to_an_ungoverned_host_resends_the_redacted_body(
    mode: str, status: int
) -> None:
    """A governed host redirecting (307/308 keep the body) to a host the gate does not govern:
    httpx resends the request's body there, which must be the redacted one."""
    harness = Harness(mode, allow_redacting("$.card", "mask"))
    received: list[tuple[str, bytes]] = []

    def world(request: httpx.Request) -> httpx.Response:
        received.append((request.url.host, request.read()))
        if request.url.host == "api.example.com":
            return httpx.Response(status, headers={"Location": "https://collector.test/x"})
        return httpx.Response(200)

    body = {"card": "4242-4242", "amount": 10}
    if mode == "sync":
        response = _post_following_redirects(harness, world, body)
    else:
        transport = AsyncGatedTransport(httpx.MockTransport(world), harness.governor)
        async with httpx.AsyncClient(transport=transport, follow_redirects=True) as http:
            response = await http.post(URL, json=body)
    assert response.status_code == 200
    assert [host for host, _ in received] == ["api.example.com", "collector.test"]
    for _, sent in received:
        assert b"4242" not in sent
        assert b"REDACTED" in sent
    assert len(harness.platform.requests) == 1  # the ungoverned hop is not asked about


async def test_credential_headers_never_reach_the_platform(mode: str) -> None:
    """Authorization, Proxy-Authorization, Cookie and API-key headers are not sent to the platform."""
    harness = Harness(mode, dict(ALLOW))
    request = _post(
        headers={
            "Authorization": "Bearer tp",
            "Cookie": "s=1",
            "Proxy-Authorization": "Basic x",
            "X-Api-Key": "k",
            "X-Request-Id": "r1",
        }
    )
    await harness.check(request)
    headers = harness.sent["headers"]
    assert isinstance(headers, dict)
    assert headers["x-request-id"] == "r1"
    assert not {"authorization", "cookie", "proxy-authorization", "x-api-key"} & set(headers)


async def test_query_is_sent_with_repeated_keys_as_lists(mode: str) -> None:
    """Query parameters go as a dict; a repeated key maps to all its values in order."""
    harness = Harness(mode, dict(ALLOW))
    await harness.check(httpx.Request("GET", "https://api.example.com/v1/search?q=a&tag=x&tag=y"))
    assert harness.sent["query"] == {"q": "a", "tag": ["x", "y"]}
    assert "body" not in harness.sent


async def test_non_json_body_is_untouched(mode: str) -> None:
    """A non-JSON body is not sent to the platform, nor redacted: the same request leaves (an
    allow requiring redactions denies it: `test_egress_review4_forms`)."""
    harness = Harness(mode, dict(ALLOW))
    request = httpx.Request(
        "POST", URL, content=b"card=4242", headers={"Content-Type": "text/plain"}
    )
    assert await harness.check(request) is request
    assert "body" not in harness.sent


async def test_streaming_body_is_not_read(mode: str) -> None:
    """A streamed JSON body is neither read nor sent to the platform; the stream stays intact."""
    harness = Harness(mode, dict(ALLOW))
    request = httpx.Request(
        "POST",
        URL,
        content=iter([b'{"card":', b'"4242"}']),
        headers={"Content-Type": "application/json"},
    )
    assert await harness.check(request) is request
    assert "body" not in harness.sent
    assert b"".join(request.stream) == b'{"card":"4242"}'  # type: ignore[arg-type]


async def test_redactions_on_an_unreadable_json_body_deny(mode: str) -> None:
    """When redactions are required but the JSON body is streamed, the request does not leave."""
    harness = Harness(mode, allow_redacting("$.card"))
    request = httpx.Request(
        "POST", URL, content=iter([b"{}"]), headers={"Content-Type": "application/json"}
    )
    with pytest.raises(ToolDeniedException) as caught:
        await harness.check(request)
    assert caught.value.outcome == "redaction_unapplicable"


async def test_each_decision_is_a_governance_span(mode: str) -> None:
    """A decision is recorded on a tool_authorize span with transport http and its fields."""
    harness = Harness(mode, dict(DENY))
    with pytest.raises(ToolDeniedException):
        await harness.check(_post())
    (span,) = harness.spans.governance()
    assert (
        dict(span.attributes or {}).items()
        >= {
            A.AUTHZ_TRANSPORT: "http",
            A.AUTHZ_STATUS: "denied",
            A.AUTHZ_OUTCOME: "egress_deny",
            A.AUTHZ_PERMISSION: "payments:refund",
            A.AUTHZ_DECISION_ID: "dec_2",
        }.items()
    )


async def test_deadline_is_governance_timeout_ahead(mode: str) -> None:
    """The platform call gets an absolute deadline about governance_timeout_s ahead."""
    harness = Harness(mode, dict(ALLOW), timeout_s=7.0)
    before = time.monotonic()
    await harness.check(_post())
    (deadline,) = harness.platform.deadlines
    assert deadline is not None
    assert before + 7.0 <= deadline <= time.monotonic() + 7.0


@pytest.mark.parametrize(
    ("host", "patterns", "governed"),
    [
        ("api.example.com", ["api.example.com"], True),
        ("API.Example.com.", ["api.example.com"], True),
        ("eu.api.example.com", ["*.example.com"], True),
        ("example.com", ["*.example.com"], False),
        ("evil-example.com", ["*.example.com"], False),
        ("api.example.org", ["api.example.com"], False),
    ],
)
def test_is_governed_host(host: str, patterns: list[str], governed: bool) -> None:
    """Hosts match exactly or by `*.suffix` (subdomains only), case-insensitively."""
    assert is_governed_host(host, patterns) is governed


def test_govern_all_governs_every_host() -> None:
    """With govern_all every request is governed, whatever the host list says."""
    platform = ScriptedPlatform()
    governor = EgressGovernor(
        TracengentOptions(agent_id="a", ingest_key="k"),
        platform=platform,
        async_platform=AsyncScriptedPlatform(platform),
        tracer=SpanRecorder().tracer,
        govern_all=True,
    )
    assert governor.is_governed(httpx.Request("GET", "http://anything.test/"))


async def test_trace_id_of_the_active_decision_trace_is_sent(mode: str) -> None:
    """Inside a decision trace the request carries its Tracengent trace id as `traceId`."""
    harness = Harness(mode, dict(ALLOW))
    token = CURRENT_TRACE.set(cast(AgentTrace, SimpleNamespace(trace_id="trc_abc")))
    try:
        await harness.check(_post())
    finally:
        CURRENT_TRACE.reset(token)
    assert harness.sent["traceId"] == "trc_abc"
