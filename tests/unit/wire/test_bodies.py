"""Request bodies (compact JSON, gzip) and malformed platform answers (sync and async)."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from opentelemetry.exporter.tracengent.errors import (
    MalformedResponseError,
    PlatformRejectedError,
    PlatformUnavailableError,
)
from opentelemetry.exporter.tracengent.transport import DeliveryResult
from opentelemetry.exporter.tracengent.wire import AuthDecision, ToolDecision

from .conftest import (
    AUTHORIZE_PATH,
    EVENT,
    EVENTS_PATH,
    HarnessFactory,
    Script,
    credentials_options,
)

PERMISSION = {"permission": "payments:refund"}
TOOL_PATH = "/v1/tool-authorize"
APPROVAL_PATH = "/v1/approvals/apr_1"
ATTENUATE_PATH = "/v1/delegations/dlg_1/attenuate"


async def test_body_at_threshold_is_gzipped(script: Script, harness: HarnessFactory) -> None:
    """A body of at least `gzip_threshold_bytes` is sent gzip-compressed with Content-Encoding."""
    script.on(EVENTS_PATH, httpx.Response(202))
    events = [dict(EVENT, input="x" * 2000)]
    h = harness()
    await h.call("post_events", events)
    (request,) = script.to(EVENTS_PATH)
    assert request.headers["content-encoding"] == "gzip"
    assert len(request.content) < 1024
    assert json.loads(gzip.decompress(request.content)) == events


async def test_body_below_threshold_is_plain_compact_json(
    script: Script, harness: HarnessFactory
) -> None:
    """A small body is sent as is: compact, UTF-8 kept, `Content-Type: application/json`."""
    script.on(EVENTS_PATH, httpx.Response(202))
    h = harness()
    await h.call("post_events", [dict(EVENT, name="Rückerstattung")])
    (request,) = script.to(EVENTS_PATH)
    assert "content-encoding" not in request.headers
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("tracengent-python/")
    expected = '[{"type":"action","name":"Rückerstattung","status":"success"}]'
    assert request.content == expected.encode()


async def test_gzip_threshold_is_configurable(script: Script, harness: HarnessFactory) -> None:
    """With a threshold of 0 even a tiny governance request is compressed."""
    script.on(AUTHORIZE_PATH, httpx.Response(200, json={"allowed": False, "status": "denied"}))
    h = harness(credentials_options(gzip_threshold_bytes=0))
    await h.call("authorize", PERMISSION)
    (request,) = script.to(AUTHORIZE_PATH)
    assert json.loads(gzip.decompress(request.content)) == PERMISSION


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="not json"),
        httpx.Response(200, json=[]),
        httpx.Response(200, content=b""),
        httpx.Response(200, json="allowed"),
    ],
    ids=["not-json", "array", "empty", "string"],
)
async def test_non_object_answer_is_malformed(
    script: Script, harness: HarnessFactory, answer: httpx.Response
) -> None:
    """A 2xx answer that is not a JSON object raises `MalformedResponseError`."""
    script.on(AUTHORIZE_PATH, answer)
    script.on(TOOL_PATH, answer)
    h = harness()
    with pytest.raises(MalformedResponseError):
        await h.call("authorize", PERMISSION)
    with pytest.raises(MalformedResponseError):
        await h.call("tool_authorize", {"transport": "mcp", "toolName": "t"})


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"allowed": "yes", "status": "allowed"}, "'allowed' must be true or false"),
        ({"allowed": "false", "status": "denied"}, "'allowed' must be true or false"),
        ({"allowed": 1, "status": "allowed"}, "'allowed' must be true or false"),
        ({"status": "allowed"}, "'allowed' must be true or false"),
        ({"allowed": True}, "'status' must be one of"),
        ({"allowed": True, "status": "denied"}, "'allowed' is true but 'status'"),
    ],
    ids=["yes", "string-false", "one", "no-allowed", "no-status", "contradiction"],
)
async def test_malformed_decision_is_a_deny_naming_the_problem(
    script: Script, harness: HarnessFactory, body: dict[str, object], problem: str
) -> None:
    """A decision object that is not an unambiguous allow is a deny, never an exception."""
    script.on(AUTHORIZE_PATH, httpx.Response(200, json=body))
    script.on(TOOL_PATH, httpx.Response(200, json=body))
    h = harness()
    decision = await h.call("authorize", PERMISSION)
    assert isinstance(decision, AuthDecision)
    assert not decision.allowed
    assert problem in decision.reason
    tool = await h.call("tool_authorize", {"transport": "function", "functionName": "f"})
    assert isinstance(tool, ToolDecision)
    assert (tool.allowed, tool.outcome) == (False, "malformed_decision")


@pytest.mark.parametrize("status", ["approved", "pending", "denied", "expired"])
async def test_approval_status_accepts_the_four_statuses(
    script: Script, harness: HarnessFactory, status: str
) -> None:
    """Each documented approval status comes back as is."""
    script.on(APPROVAL_PATH, httpx.Response(200, json={"status": status}))
    h = harness()
    assert await h.call("approval_status", "apr_1") == status
    assert script.to(APPROVAL_PATH)[0].method == "GET"


@pytest.mark.parametrize("body", [{"status": "maybe"}, {"status": None}, {}, []])
async def test_unknown_approval_status_is_malformed(
    script: Script, harness: HarnessFactory, body: object
) -> None:
    """Any other approval answer raises `MalformedResponseError`."""
    script.on(APPROVAL_PATH, httpx.Response(200, json=body))
    h = harness()
    with pytest.raises(MalformedResponseError):
        await h.call("approval_status", "apr_1")


@pytest.mark.parametrize(
    "body", [{}, {"token": "jwt"}, {"token": {}}, {"token": {"accessToken": 7}}]
)
async def test_attenuate_without_access_token_is_malformed(
    script: Script, harness: HarnessFactory, body: object
) -> None:
    """An attenuation answer without `token.accessToken` raises `MalformedResponseError`."""
    script.on(ATTENUATE_PATH, httpx.Response(200, json=body))
    h = harness(bearer_token="dlg.parent.jwt")
    with pytest.raises(MalformedResponseError):
        await h.call("attenuate", "dlg_1", {"grantedToAgentId": "agt_b", "permissions": []})


async def test_attenuate_403_is_rejected_and_503_unavailable(
    script: Script, harness: HarnessFactory
) -> None:
    """A refused attenuation raises `PlatformRejectedError(403)`; a failing one unavailable."""
    script.on(ATTENUATE_PATH, httpx.Response(403, json={"error": "not a subset"}))
    h = harness(bearer_token="dlg.parent.jwt")
    request = {"grantedToAgentId": "agt_b", "permissions": ["x:y"]}
    with pytest.raises(PlatformRejectedError) as caught:
        await h.call("attenuate", "dlg_1", request)
    assert caught.value.status_code == 403
    script.on(ATTENUATE_PATH, httpx.Response(503))
    with pytest.raises(PlatformUnavailableError):
        await h.call("attenuate", "dlg_1", request)


async def test_unserializable_payloads_never_leave(script: Script, harness: HarnessFactory) -> None:
    """NaN cannot be sent: telemetry reports it failed, governance raises a rejection."""
    h = harness()
    result = await h.call("post_events", [dict(EVENT, cost={"amount": float("nan")})])
    assert isinstance(result, DeliveryResult)
    assert result.failed == 1
    assert (result.reason or "").startswith("not serializable")
    with pytest.raises(PlatformRejectedError):
        await h.call("authorize", {"permission": "p", "context": {"amount": float("inf")}})
    assert script.to(EVENTS_PATH) == []
    assert script.to(AUTHORIZE_PATH) == []


async def test_empty_batch_sends_nothing(script: Script, harness: HarnessFactory) -> None:
    """Posting no events makes no request at all."""
    h = harness()
    assert await h.call("post_events", []) == DeliveryResult(0, 0, 0, None, None)
    assert script.requests == []


async def test_a_wrong_payload_type_is_reported_not_raised(
    script: Script, harness: HarnessFactory
) -> None:
    """Even a payload that is not a list of events yields a result instead of an exception."""
    h = harness()
    result = await h.call("post_events", None)
    assert isinstance(result, DeliveryResult)
    assert (result.reason or "").startswith("internal error")
    assert script.requests == []
