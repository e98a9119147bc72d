"""Egress and tool gates over the real PlatformClient / AsyncPlatformClient on httpx.MockTransport.

The platform answer is scripted at the HTTP level, so the wire layer's own error translation
(statuses, retries, malformed bodies, transport errors) is exercised end to end.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import AsyncPlatformClient, PlatformClient
from tests.unit.tools.stubs import ALLOW, DENY, PENDING, SpanRecorder, allow_redacting
from tracengent._governance.egress import EgressGovernor
from tracengent._governance.tools import ToolGate

Handler = Callable[[httpx.Request], httpx.Response]


def _json(answer: object, status: int = 200) -> Handler:
    return lambda request: httpx.Response(status, content=json.dumps(answer).encode())


def _unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def _not_json(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b"<html>oops</html>")


HANDLERS: dict[str, Handler] = {
    "unreachable": _unreachable,
    "timeout": _timeout,
    "500": _json({"error": "boom"}, 500),
    "401": _json({"error": "unauthorized"}, 401),
    "403": _json({"error": "forbidden"}, 403),
    "not-json": _not_json,
    "malformed": _json({"allowed": 1, "status": "allowed"}),
    "deny": _json(DENY),
}
UNAVAILABLE = {"unreachable", "timeout", "500"}


class Gates:
    """Both gates over real platform clients whose transport is `handler`."""

    def __init__(self, handler: Handler, *, fail_open: bool = False) -> None:
        self.seen: list[httpx.Request] = []

        def recording(request: httpx.Request) -> httpx.Response:
            self.seen.append(request)
            return handler(request)

        async def recording_async(request: httpx.Request) -> httpx.Response:
            return recording(request)

        options = TracengentOptions(
            agent_id="agent",
            ingest_key="agk_x",
            max_retries=0,
            governed_hosts=["api.example.com"],
            tool_governance_fail_open=fail_open,
        )
        platform = PlatformClient(options, transport=httpx.MockTransport(recording))
        async_platform = AsyncPlatformClient(
            options, transport=httpx.MockTransport(recording_async)
        )
        tracer = SpanRecorder().tracer
        self.egress = EgressGovernor(
            options, platform=platform, async_platform=async_platform, tracer=tracer
        )
        self.tools = ToolGate(
            options, platform=platform, async_platform=async_platform, tracer=tracer
        )

    async def check(self, mode: str, request: httpx.Request) -> httpx.Request:
        if mode == "sync":
            return self.egress.check(request)
        return await self.egress.check_async(request)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _refund() -> httpx.Request:
    return httpx.Request(
        "POST",
        "https://api.example.com/v1/refunds",
        json={"amount": 20, "card": "4242"},
        headers={"Authorization": "Bearer third-party", "Cookie": "sid=1"},
    )


async def test_platform_receives_no_third_party_credentials(mode: str) -> None:
    """The bytes sent to /v1/tool-authorize carry no Authorization or Cookie of the governed call."""
    gates = Gates(_json(ALLOW))
    await gates.check(mode, _refund())
    (sent,) = gates.seen
    assert sent.url.path == "/v1/tool-authorize"
    assert b"third-party" not in sent.content
    assert b"sid=1" not in sent.content
    assert json.loads(sent.content)["body"] == {"amount": 20, "card": "4242"}


async def test_redaction_from_the_wire_is_applied(mode: str) -> None:
    """A wire allow with a mask redaction yields a request whose body is masked."""
    gates = Gates(_json(allow_redacting("$.card", "mask")))
    sent = await gates.check(mode, _refund())
    assert json.loads(sent.content) == {"amount": 20, "card": "***REDACTED***"}
    assert sent.headers["content-length"] == str(len(sent.content))


@pytest.mark.parametrize("failure", sorted(HANDLERS))
async def test_egress_fails_closed_by_default(mode: str, failure: str) -> None:
    """Without fail-open, every failure and every refusal raises ToolDeniedException."""
    gates = Gates(HANDLERS[failure])
    with pytest.raises(ToolDeniedException):
        await gates.check(mode, _refund())


@pytest.mark.parametrize("failure", sorted(HANDLERS))
async def test_fail_open_opens_only_for_unavailability(mode: str, failure: str) -> None:
    """With fail-open, only unreachable/timeout/5xx pass; 401, 403, nonsense and denies do not."""
    gates = Gates(HANDLERS[failure], fail_open=True)
    request = _refund()
    if failure in UNAVAILABLE:
        assert await gates.check(mode, request) is request
        assert gates.egress.fail_open_count == 1
    else:
        with pytest.raises(ToolDeniedException):
            await gates.check(mode, request)
        assert gates.egress.fail_open_count == 0


@pytest.mark.parametrize("failure", sorted(HANDLERS))
async def test_tool_gates_always_fail_closed(mode: str, failure: str) -> None:
    """MCP and function decisions deny on every failure, even with fail-open chosen."""
    gates = Gates(HANDLERS[failure], fail_open=True)
    if mode == "sync":
        decisions = [
            gates.tools.authorize_mcp("search_flights", {"q": "x"}),
            gates.tools.authorize_function("send_email", {"to": "a"}),
        ]
    else:
        decisions = [
            await gates.tools.authorize_mcp_async("search_flights", {"q": "x"}),
            await gates.tools.authorize_function_async("send_email", {"to": "a"}),
        ]
    assert [d.allowed for d in decisions] == [False, False]


async def test_pending_from_the_wire_is_pending(mode: str) -> None:
    """A wire pending_approval answer is a pending decision carrying the approval id."""
    gates = Gates(_json(PENDING))
    if mode == "sync":
        decision = gates.tools.authorize_function("send_email", {"to": "a"})
    else:
        decision = await gates.tools.authorize_function_async("send_email", {"to": "a"})
    assert (decision.pending, decision.approval_id) == (True, "apr_7")
