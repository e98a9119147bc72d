"""Waiting for a held tool call's approval (`ToolGate.wait_for_approval[_async]`, and `guard_*`'s
`wait_for_approval=True`) over the real platform clients on httpx.MockTransport: approved returns
(then the retry is allowed), anything else raises `ToolDeniedException` naming why; answers that
cannot be read fail closed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import AsyncPlatformClient, PlatformClient
from tests.unit.tools.stubs import (
    PENDING,
    AsyncScriptedPlatform,
    ScriptedPlatform,
    SpanRecorder,
    allow_redacting,
    call_in_mode,
)
from tracengent._governance.tools import ToolGate

Reply = JsonValue | bytes
"""An answer of the approvals endpoint: JSON, or raw bytes (not JSON)."""


class Platform:
    """Scripted `/v1/tool-authorize` decisions and `/v1/approvals/{id}` answers, in order (the
    last one repeats), behind real platform clients; records every request."""

    def __init__(self, decisions: list[JsonObject], polls: list[Reply]) -> None:
        self.decisions = decisions
        self.polls = polls
        self.seen: list[httpx.Request] = []
        options = TracengentOptions(
            agent_id="agent",
            ingest_key="agk_x",
            max_retries=0,
            approval_poll_interval_s=0.001,
            approval_timeout_s=30.0,
        )
        self.spans = SpanRecorder()
        self.sync = PlatformClient(options, transport=httpx.MockTransport(self.answer))
        self.async_ = AsyncPlatformClient(options, transport=httpx.MockTransport(self.answer_async))
        self.gate = ToolGate(
            options, platform=self.sync, async_platform=self.async_, tracer=self.spans.tracer
        )

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        script = self.decisions if request.url.path == "/v1/tool-authorize" else self.polls
        reply = script.pop(0) if len(script) > 1 else script[0]
        content = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
        return httpx.Response(200, content=content)

    async def answer_async(self, request: httpx.Request) -> httpx.Response:
        return self.answer(request)

    def polled(self) -> list[str]:
        return [r.url.path for r in self.seen if r.url.path.startswith("/v1/approvals/")]

    async def wait(self, mode: str, approval_id: str = "apr_7", **kwargs: float) -> None:
        if mode == "sync":
            self.gate.wait_for_approval(approval_id, **kwargs)
        else:
            await self.gate.wait_for_approval_async(approval_id, **kwargs)

    async def close(self) -> None:
        self.sync.close()
        await self.async_.aclose()


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def platforms() -> AsyncIterator[list[Platform]]:
    """The platforms a test made (`_platform`), closed after it."""
    made: list[Platform] = []
    yield made
    for platform in made:
        await platform.close()


def _platform(made: list[Platform], decisions: list[JsonObject], polls: list[Reply]) -> Platform:
    platform = Platform(decisions, polls)
    made.append(platform)
    return platform


async def test_approved_returns_after_pending_polls(mode: str, platforms: list[Platform]) -> None:
    """Pending, pending, approved: the wait returns after polling that approval three times,
    recorded as an approval_wait span naming it."""
    polls: list[Reply] = [{"status": "pending"}, {"status": "pending"}, {"status": "approved"}]
    platform = _platform(platforms, [PENDING], polls)
    await platform.wait(mode)
    assert platform.polled() == ["/v1/approvals/apr_7"] * 3
    (span,) = [
        s
        for s in platform.spans.exporter.get_finished_spans()
        if (s.attributes or {}).get(A.GOVERNANCE_KIND) == A.GovernanceKinds.APPROVAL_WAIT
    ]
    assert (span.attributes or {})[A.AUTHZ_APPROVAL_ID] == "apr_7"


@pytest.mark.parametrize(
    ("polls", "outcome"),
    [
        ([{"status": "denied"}], "approval_denied"),
        ([{"status": "pending"}, {"status": "expired"}], "approval_expired"),
        ([{"status": "granted"}], "approval_unavailable"),
        ([{"status": True}], "approval_unavailable"),
        ([{"approved": True}], "approval_unavailable"),
        ([b"<html>approved</html>"], "approval_unavailable"),
        ([[{"status": "approved"}]], "approval_unavailable"),
        ([b'{"status": "denied", "status": "approved"}'], "approval_unavailable"),
    ],
)
async def test_anything_but_approved_raises_naming_why(
    mode: str, platforms: list[Platform], polls: list[Reply], outcome: str
) -> None:
    """Denied, expired, and answers that cannot be read (unknown status, not an object, not
    JSON, a key twice) raise ToolDeniedException: a malformed answer never approves."""
    platform = _platform(platforms, [PENDING], polls)
    with pytest.raises(ToolDeniedException) as caught:
        await platform.wait(mode)
    assert caught.value.outcome == outcome


async def test_pending_past_the_timeout_raises(mode: str, platforms: list[Platform]) -> None:
    """An approval still pending when `timeout_s` passes raises with outcome approval_timeout."""
    platform = _platform(platforms, [PENDING], [{"status": "pending"}])
    with pytest.raises(ToolDeniedException) as caught:
        await platform.wait(mode, timeout_s=0.02, poll_interval_s=0.005)
    assert (caught.value.outcome, caught.value.reason) == (
        "approval_timeout",
        "approval timed out after 0.02 s",
    )


@pytest.mark.parametrize("approval_id", ["", "..", "."])
async def test_an_id_naming_no_approval_is_never_polled(
    mode: str, platforms: list[Platform], approval_id: str
) -> None:
    """An id that names no approval raises without a request (nothing to wait for)."""
    platform = _platform(platforms, [PENDING], [{"status": "approved"}])
    with pytest.raises(ToolDeniedException) as caught:
        await platform.wait(mode, approval_id)
    assert caught.value.outcome == "approval_unavailable"
    assert platform.seen == []


async def test_guard_waits_and_retries_once_when_asked(
    mode: str, platforms: list[Platform]
) -> None:
    """guard_function(wait_for_approval=True): held, approved, asked again: allowed, the
    function called once with the redacted arguments."""
    platform = _platform(
        platforms, [PENDING, allow_redacting("$.attachments")], [{"status": "approved"}]
    )
    calls: list[JsonValue] = []

    def send(arguments: JsonValue) -> str:
        calls.append(arguments)
        return "sent"

    async def send_async(arguments: JsonValue) -> str:
        return send(arguments)

    args: JsonObject = {"to": "a@example.com", "attachments": ["x.pdf"]}
    if mode == "sync":
        result = platform.gate.guard_function("send_email", args, send, wait_for_approval=True)
    else:
        result = await platform.gate.guard_function_async(
            "send_email", args, send_async, wait_for_approval=True
        )
    assert (result.allowed, result.value, calls) == (True, "sent", [{"to": "a@example.com"}])
    authorize_bodies = [
        json.loads(r.content) for r in platform.seen if r.url.path == "/v1/tool-authorize"
    ]
    assert authorize_bodies == [authorize_bodies[0]] * 2
    assert authorize_bodies[0]["body"] == args


async def test_guard_returns_the_refusal_without_calling(
    mode: str, platforms: list[Platform]
) -> None:
    """guard_mcp(wait_for_approval=True) with the approval denied: a deny result, the tool not
    called, the platform not asked again."""
    platform = _platform(platforms, [PENDING], [{"status": "denied"}])
    calls: list[JsonValue] = []

    async def search_async(arguments: JsonValue) -> None:
        calls.append(arguments)

    if mode == "sync":
        result = platform.gate.guard_mcp("search", {"q": 1}, calls.append, wait_for_approval=True)
    else:
        result = await platform.gate.guard_mcp_async(
            "search", {"q": 1}, search_async, wait_for_approval=True
        )
    assert (result.allowed, result.decision.outcome, calls) == (False, "approval_denied", [])
    with pytest.raises(ToolDeniedException):
        result.ensure_allowed()
    assert len([r for r in platform.seen if r.url.path == "/v1/tool-authorize"]) == 1


async def test_without_wait_a_held_guard_is_returned_as_pending(
    mode: str, platforms: list[Platform]
) -> None:
    """By default guard_* do not wait: the held result comes back and nothing is polled."""
    platform = _platform(platforms, [PENDING], [{"status": "approved"}])

    async def nothing_async(arguments: JsonValue) -> None:
        return None

    if mode == "sync":
        result = platform.gate.guard_function("send_email", {}, lambda arguments: None)
    else:
        result = await platform.gate.guard_function_async("send_email", {}, nothing_async)
    assert result.decision.pending
    assert platform.polled() == []


async def test_a_gate_whose_client_cannot_poll_refuses(mode: str) -> None:
    """A gate over a platform client without approval polling refuses to wait (sdk_error)."""
    scripted = ScriptedPlatform()
    gate = ToolGate(
        TracengentOptions(agent_id="agent", ingest_key="agk_x"),
        platform=scripted,
        async_platform=AsyncScriptedPlatform(scripted),
        tracer=SpanRecorder().tracer,
    )
    with pytest.raises(ToolDeniedException) as caught:
        await call_in_mode(
            mode,
            lambda: gate.wait_for_approval("apr_7"),
            lambda: gate.wait_for_approval_async("apr_7"),
        )
    assert caught.value.outcome == "sdk_error"
