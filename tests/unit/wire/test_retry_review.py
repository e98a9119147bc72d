"""Token endpoint blips, undecodable answers and SDK failures in the call policy (sync and async).

A token endpoint that is briefly unreachable or answers 429/5xx is retried inside the call (same
retry budget, same deadline, its `Retry-After` honoured); ingest decides on the status alone; a
governance answer that cannot be decoded is malformed, and a failure of the SDK itself is no
outage: neither may let governance fail open.
"""

from __future__ import annotations

import httpx
import pytest

from opentelemetry.exporter.tracengent._http_policy import TokenUnavailableError
from opentelemetry.exporter.tracengent._platform_core import PlatformCore
from opentelemetry.exporter.tracengent.errors import (
    MalformedResponseError,
    PlatformError,
    PlatformRejectedError,
    PlatformUnavailableError,
    ToolDeniedException,
)
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.token import AgentTokenProvider
from opentelemetry.exporter.tracengent.transport import DeliveryResult, PlatformClient
from opentelemetry.exporter.tracengent.wire import AuthDecision, ToolDecision
from tracengent import TracengentClient, governed_client

from .conftest import (
    ALLOW,
    AUTHORIZE_PATH,
    EVENT,
    EVENTS_PATH,
    TOKEN_PATH,
    FakeClock,
    HarnessFactory,
    Script,
    credentials_options,
    paths,
    token_answer,
)

PERMISSION = {"permission": "payments:refund"}
TOOL_PATH = "/v1/tool-authorize"
ACCEPTED = httpx.Response(202, json={"accepted": 1})
TOOL_ALLOW = {"allowed": True, "status": "allowed", "outcome": "policy_allow", "reason": "ok"}


def undecodable(status: int) -> httpx.Response:
    """An answer claiming gzip whose body is not gzip: reading it raises `httpx.DecodingError`."""
    return httpx.Response(
        status, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(b"not gzip")
    )


def ingest_key_options(**overrides: object) -> TracengentOptions:
    """Valid options with the legacy ingest key (no token endpoint)."""
    values: dict[str, object] = {"agent_id": "billing-agent", "ingest_key": "agk_test"}
    values.update(overrides)
    return TracengentOptions(**values)  # type: ignore[arg-type]


# --- 1. token endpoint blips are retried inside the call ------------------------------------


async def test_a_token_503_is_retried_after_the_token_backoff_and_the_batch_delivered(
    script: Script, harness: HarnessFactory
) -> None:
    """One 503 from the token endpoint: the call waits the provider's 1 s backoff, then delivers."""
    script.on(TOKEN_PATH, httpx.Response(503), token_answer())
    script.on(EVENTS_PATH, ACCEPTED)
    h = harness()
    result = await h.call("post_events", [EVENT])
    assert result == DeliveryResult(1, 0, 0, None, 202)
    assert h.sleeps == [1.0]
    assert paths(script.requests) == [TOKEN_PATH, TOKEN_PATH, EVENTS_PATH]


async def test_a_token_retry_after_is_honoured(script: Script, harness: HarnessFactory) -> None:
    """A 429 from the token endpoint with `Retry-After: 3` is asked again 3 s later, not sooner."""
    script.on(TOKEN_PATH, httpx.Response(429, headers={"Retry-After": "3"}), token_answer())
    script.on(AUTHORIZE_PATH, httpx.Response(200, json=ALLOW))
    h = harness()
    decision = await h.call("authorize", PERMISSION, deadline=h.clock() + 10)
    assert isinstance(decision, AuthDecision)
    assert decision.allowed
    assert h.sleeps == [3.0]


async def test_an_unreachable_token_endpoint_is_retried(
    script: Script, harness: HarnessFactory
) -> None:
    """A connection error on the token fetch is retried like one on the call itself."""
    script.on(TOKEN_PATH, httpx.ConnectError("refused"), token_answer())
    script.on(EVENTS_PATH, ACCEPTED)
    h = harness()
    result = await h.call("post_events", [EVENT])
    assert isinstance(result, DeliveryResult)
    assert result.delivered == 1
    assert h.sleeps == [1.0]


async def test_token_retries_spend_the_calls_retry_budget(
    script: Script, harness: HarnessFactory
) -> None:
    """An always-503 token endpoint is asked 1 + max_retries times, then the batch fails."""
    script.on(TOKEN_PATH, httpx.Response(503))
    h = harness()
    result = await h.call("post_events", [EVENT], deadline=h.clock() + 600)
    assert isinstance(result, DeliveryResult)
    assert (result.failed, result.status_code) == (1, 503)
    assert result.reason == "retries exhausted: no token: token endpoint answered 503"
    assert h.sleeps == [1.0, 2.0, 4.0]
    assert paths(script.requests) == [TOKEN_PATH] * 4


async def test_token_and_request_retries_share_one_budget(
    script: Script, harness: HarnessFactory
) -> None:
    """One token retry leaves max_retries - 1 retries for the events request itself."""
    script.on(TOKEN_PATH, httpx.Response(503), token_answer())
    script.on(EVENTS_PATH, httpx.Response(503))
    h = harness()
    result = await h.call("post_events", [EVENT], deadline=h.clock() + 600)
    assert result == DeliveryResult(0, 0, 1, "retries exhausted: 503", 503)
    assert h.sleeps == pytest.approx([1.0, 0.4, 0.8])
    assert paths(script.requests) == [TOKEN_PATH, TOKEN_PATH] + [EVENTS_PATH] * 3


async def test_a_call_during_the_token_backoff_waits_it_out(
    script: Script, harness: HarnessFactory
) -> None:
    """A call arriving while the provider backs off waits the rest of it instead of failing."""
    script.on(TOKEN_PATH, httpx.Response(503), token_answer())
    script.on(EVENTS_PATH, ACCEPTED)
    h = harness()
    first = await h.call("post_events", [EVENT], deadline=h.clock() + 0.5)
    assert isinstance(first, DeliveryResult)
    assert first.failed == 1
    assert "would pass the deadline" in (first.reason or "")
    h.clock.now += 0.25
    second = await h.call("post_events", [EVENT])
    assert isinstance(second, DeliveryResult)
    assert second.delivered == 1
    assert h.sleeps == [0.75]
    assert paths(script.requests) == [TOKEN_PATH, TOKEN_PATH, EVENTS_PATH]


async def test_token_retries_of_a_governance_call_stay_within_its_deadline(
    script: Script, harness: HarnessFactory
) -> None:
    """Token retries of an authorize end at `governance_timeout_s`; it fails with the status."""
    script.on(TOKEN_PATH, httpx.Response(503))
    h = harness(credentials_options(governance_timeout_s=5.0, max_retries=10))
    start = h.clock()
    with pytest.raises(PlatformUnavailableError) as caught:
        await h.call("authorize", PERMISSION)
    assert caught.value.status_code == 503
    assert "would pass the deadline" in str(caught.value)
    assert h.sleeps == [1.0, 2.0]
    assert h.clock() - start <= 5.0
    assert script.to(AUTHORIZE_PATH) == []


async def test_a_token_refetch_after_a_401_is_retried_too(
    script: Script, harness: HarnessFactory
) -> None:
    """After a 401, a 503 from the token endpoint is waited out and the call then succeeds."""
    first = token_answer("a.b.c")
    second = token_answer("d.e.f")
    script.on(TOKEN_PATH, first, httpx.Response(503), second)
    script.on(AUTHORIZE_PATH, httpx.Response(401), httpx.Response(200, json=ALLOW))
    h = harness()
    decision = await h.call("authorize", PERMISSION)
    assert isinstance(decision, AuthDecision)
    assert decision.allowed
    assert h.sleeps == [1.0]
    assert script.to(AUTHORIZE_PATH)[-1].headers["authorization"] == "Bearer d.e.f"


@pytest.mark.parametrize("status", [400, 403])
async def test_refused_credentials_are_not_retried(
    script: Script, harness: HarnessFactory, status: int
) -> None:
    """A non-401 4xx from the token endpoint ends the call at once: no retry helps."""
    script.on(TOKEN_PATH, httpx.Response(status))
    h = harness()
    with pytest.raises(PlatformRejectedError):
        await h.call("authorize", PERMISSION)
    assert h.sleeps == []
    assert paths(script.requests) == [TOKEN_PATH]


async def test_an_undecodable_token_answer_is_malformed_and_not_retried(
    script: Script, harness: HarnessFactory
) -> None:
    """A token answer whose body cannot be decoded is malformed: not retried, never an outage."""
    script.on(TOKEN_PATH, lambda _: undecodable(200))
    h = harness()
    with pytest.raises(MalformedResponseError):
        await h.call("authorize", PERMISSION)
    with pytest.raises(MalformedResponseError, match="backing off"):
        await h.call("tool_authorize", {"transport": "mcp", "toolName": "t"})
    assert h.sleeps == []
    assert paths(script.requests) == [TOKEN_PATH]


def test_a_transient_token_failure_says_when_to_ask_again(script: Script) -> None:
    """The provider's errors carry its backoff: the whole window, then what is left of it."""
    script.on(TOKEN_PATH, httpx.Response(503, headers={"Retry-After": "5"}))
    clock = FakeClock()
    with httpx.Client(transport=httpx.MockTransport(script.handle)) as http:
        provider = AgentTokenProvider(credentials_options(), http, clock=clock)
        with pytest.raises(TokenUnavailableError) as fetched:
            provider.get_token(deadline=clock() + 60)
        clock.now += 2.0
        with pytest.raises(TokenUnavailableError) as backing_off:
            provider.get_token(deadline=clock() + 60)
    assert fetched.value.retry_in_s == 5.0
    assert backing_off.value.retry_in_s == 3.0
    assert len(script.to(TOKEN_PATH)) == 1


def test_governance_fails_closed_when_the_token_endpoint_stays_down() -> None:
    """Through the client: a token endpoint answering 503 makes authorize deny, never allow."""

    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == TOKEN_PATH:
            return httpx.Response(503)
        return httpx.Response(200, json=ALLOW)

    options = credentials_options(base_url="http://platform.test", max_retries=0)
    with TracengentClient(options, transport=httpx.MockTransport(platform)) as client:
        decision = client.authorize("payments:refund")
    assert not decision.allowed
    assert "503" in decision.reason


# --- 2. ingest decides on the status alone ---------------------------------------------------


async def test_an_undecodable_2xx_ingest_answer_is_delivered(
    script: Script, harness: HarnessFactory
) -> None:
    """A 200 whose body cannot be decoded still acknowledges the batch: nothing is dropped."""
    script.on(EVENTS_PATH, lambda _: undecodable(200))
    h = harness(ingest_key_options())
    result = await h.call("post_events", [EVENT, EVENT])
    assert result == DeliveryResult(2, 0, 0, None, 200)
    assert len(script.to(EVENTS_PATH)) == 1


async def test_an_undecodable_503_ingest_answer_is_retried(
    script: Script, harness: HarnessFactory
) -> None:
    """A 503 whose body cannot be decoded is retried like any 503, then delivered."""
    script.on(EVENTS_PATH, lambda _: undecodable(503), ACCEPTED)
    h = harness(ingest_key_options())
    result = await h.call("post_events", [EVENT])
    assert result == DeliveryResult(1, 0, 0, None, 202)
    assert h.sleeps == [0.2]


async def test_an_undecodable_400_ingest_answer_is_rejected(
    script: Script, harness: HarnessFactory
) -> None:
    """A 400 whose body cannot be decoded is a permanent rejection that says so."""
    script.on(EVENTS_PATH, lambda _: undecodable(400))
    h = harness(ingest_key_options())
    result = await h.call("post_events", [EVENT])
    assert result == DeliveryResult(0, 1, 0, "rejected: 400 (body could not be decoded)", 400)
    assert h.sleeps == []


def test_an_undecodable_2xx_is_delivered_through_a_given_client(script: Script) -> None:
    """The `http=` path (a caller's client, or a proxy) decides on the status alone too."""
    script.on(EVENTS_PATH, lambda _: undecodable(200))
    with httpx.Client(transport=httpx.MockTransport(script.handle)) as http:
        client = PlatformClient(ingest_key_options(), http=http)
        result = client.post_events([{"type": "action", "name": "n", "status": "success"}])
        client.close()
    assert result == DeliveryResult(1, 0, 0, None, 200)


# --- 3. a malformed answer or an SDK failure is never an outage ------------------------------


async def test_an_undecodable_2xx_governance_answer_is_malformed(
    script: Script, harness: HarnessFactory
) -> None:
    """A 200 decision whose body cannot be decoded is malformed (no retry), not unavailable."""
    script.on(TOOL_PATH, lambda _: undecodable(200))
    h = harness(ingest_key_options())
    with pytest.raises(MalformedResponseError) as caught:
        await h.call("tool_authorize", {"transport": "mcp", "toolName": "t"})
    assert caught.value.status_code == 200
    assert h.sleeps == []
    assert len(script.to(TOOL_PATH)) == 1


async def test_an_undecodable_503_governance_answer_is_retried(
    script: Script, harness: HarnessFactory
) -> None:
    """A 503 whose body cannot be decoded is retried; the next answer's decision is used."""
    script.on(TOOL_PATH, lambda _: undecodable(503), httpx.Response(200, json=TOOL_ALLOW))
    h = harness(ingest_key_options())
    decision = await h.call("tool_authorize", {"transport": "mcp", "toolName": "t"})
    assert isinstance(decision, ToolDecision)
    assert decision.allowed
    assert h.sleeps == [0.2]


async def test_a_decoding_error_raised_by_the_transport_is_malformed(
    script: Script, harness: HarnessFactory
) -> None:
    """An answer that cannot be decoded before its status is seen is malformed, not unavailable."""
    script.on(TOOL_PATH, httpx.DecodingError("corrupt gzip"))
    h = harness(ingest_key_options())
    with pytest.raises(MalformedResponseError):
        await h.call("tool_authorize", {"transport": "mcp", "toolName": "t"})


async def test_an_sdk_failure_is_a_platform_error_but_not_an_outage(
    script: Script, harness: HarnessFactory
) -> None:
    """A non-httpx exception while sending is a plain `PlatformError`, never unavailable."""
    script.on(TOOL_PATH, RuntimeError("bug"))
    h = harness(ingest_key_options())
    with pytest.raises(PlatformError) as caught:
        await h.call("tool_authorize", {"transport": "mcp", "toolName": "t"})
    assert not isinstance(caught.value, PlatformUnavailableError)
    assert h.sleeps == []


def test_an_internal_error_is_not_reported_as_an_outage() -> None:
    """`internal_error` wraps an unexpected exception as a plain `PlatformError`."""
    error = PlatformCore.internal_error(RuntimeError("bug"))
    assert type(error) is PlatformError
    assert "RuntimeError: bug" in str(error)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(lambda _: undecodable(200), id="undecodable-2xx"),
        pytest.param(httpx.DecodingError("corrupt gzip"), id="decoding-error"),
        pytest.param(RuntimeError("bug"), id="sdk-failure"),
    ],
)
def test_egress_never_fails_open_on_a_malformed_answer_or_an_sdk_failure(
    answer: object,
) -> None:
    """With `tool_governance_fail_open`, a governed request still does not leave unauthorized."""
    script = Script().on(TOOL_PATH, answer)  # type: ignore[arg-type]
    sent: list[httpx.Request] = []

    def tool(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    options = ingest_key_options(
        base_url="http://platform.test",
        governed_hosts=["tool.test"],
        tool_governance_fail_open=True,
        max_retries=0,
    )
    with (
        TracengentClient(options, transport=httpx.MockTransport(script.handle)) as client,
        governed_client(client, inner=httpx.MockTransport(tool)) as http,
        pytest.raises(ToolDeniedException),
    ):
        http.post("http://tool.test/refund", json={"card": "4242"})
    assert sent == []
