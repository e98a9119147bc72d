"""Authorization against a scripted platform: one suite for the blocking and coroutine APIs."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.errors import NotAuthorizedException
from opentelemetry.exporter.tracengent.wire import AuthDecision, AuthObligations
from tracengent._governance.authorization import Authorizer

from .conftest import authorizer_for, either, governance_spans, make_options
from .fakes import FakePlatform, decision

AUTHORIZE = "/v1/authorize"


def _authorizer(
    platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter], **options: object
) -> Authorizer:
    return authorizer_for(
        make_options("http://platform.test", **options),
        spans[0],
        httpx.MockTransport(platform.handle),
    )


async def _authorize(
    mode: str, authorizer: Authorizer, permission: str, **kw: object
) -> AuthDecision:
    context = kw.get("context")
    return await either(
        mode,
        lambda: authorizer.authorize(permission, context),  # type: ignore[arg-type]
        lambda: authorizer.authorize_async(permission, context),  # type: ignore[arg-type]
    )


async def _ensure(mode: str, authorizer: Authorizer, permission: str) -> AuthObligations | None:
    return await either(
        mode,
        lambda: authorizer.ensure_authorized(permission),
        lambda: authorizer.ensure_authorized_async(permission),
    )


async def test_allow_is_returned_and_recorded_on_a_span(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """An allow comes back as such and its governance span carries the authz attributes."""
    platform.on(AUTHORIZE, decision("allowed", reason="within limit", decision_id="dec_7"))
    result = await _authorize(
        mode, _authorizer(platform, spans), "payments:refund", context={"amount": 280}
    )
    assert result.allowed
    assert result.decision_id == "dec_7"
    assert platform.bodies(AUTHORIZE) == [
        {"permission": "payments:refund", "context": {"amount": 280}}
    ]
    (span,) = governance_spans(spans[1], A.GovernanceKinds.AUTHORIZE)
    assert span.name == "tracengent.authorize payments:refund"
    assert span.attributes is not None
    assert span.attributes[A.AUTHZ_PERMISSION] == "payments:refund"
    assert span.attributes[A.AUTHZ_STATUS] == "allowed"
    assert span.attributes[A.AUTHZ_REASON] == "within limit"
    assert span.attributes[A.AUTHZ_DECISION_ID] == "dec_7"


async def test_deny_raises_not_authorized_with_the_platforms_reason(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """`ensure_authorized` raises NotAuthorizedException carrying the platform's reason."""
    platform.on(AUTHORIZE, decision("denied", reason="over limit"))
    with pytest.raises(NotAuthorizedException) as caught:
        await _ensure(mode, _authorizer(platform, spans), "payments:refund")
    assert caught.value.permission == "payments:refund"
    assert caught.value.reason == "over limit"


async def test_allow_returns_obligations(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """`ensure_authorized` returns the allow's obligations."""
    platform.on(
        AUTHORIZE,
        decision("allowed", obligations={"maxAmount": 1000, "redactFields": ["$.card"]}),
    )
    obligations = await _ensure(mode, _authorizer(platform, spans), "payments:refund")
    assert obligations is not None
    assert obligations.max_amount == 1000
    assert obligations.redact_fields == ["$.card"]


@pytest.mark.parametrize(
    ("final_status", "allowed", "reason"),
    [
        ("approved", True, "approved"),
        ("denied", False, "approval denied"),
        ("expired", False, "approval expired"),
    ],
)
async def test_pending_waits_for_the_approval(
    mode: str,
    platform: FakePlatform,
    spans: tuple[Tracer, InMemorySpanExporter],
    final_status: str,
    allowed: bool,
    reason: str,
) -> None:
    """A pending decision is polled until approved (allow) or denied/expired (deny)."""
    platform.on(AUTHORIZE, decision("pending_approval", reason="over 500", approvalId="apr_1"))
    platform.on(
        "/v1/approvals/apr_1",
        httpx.Response(200, json={"status": "pending"}),
        httpx.Response(200, json={"status": final_status}),
    )
    authorizer = _authorizer(platform, spans)
    if allowed:
        await _ensure(mode, authorizer, "payments:refund")
    else:
        with pytest.raises(NotAuthorizedException) as caught:
            await _ensure(mode, authorizer, "payments:refund")
        assert caught.value.reason == reason
    assert len(platform.calls("/v1/approvals/apr_1")) == 2
    (wait,) = governance_spans(spans[1], A.GovernanceKinds.APPROVAL_WAIT)
    assert wait.attributes is not None
    assert wait.attributes[A.AUTHZ_APPROVAL_ID] == "apr_1"
    assert wait.attributes[A.AUTHZ_STATUS] == ("allowed" if allowed else "denied")


async def test_approval_that_never_comes_times_out_as_a_deny(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """A wait past its timeout denies with a reason saying so."""
    platform.on("/v1/approvals/apr_2", httpx.Response(200, json={"status": "pending"}))
    authorizer = _authorizer(platform, spans)
    result = await either(
        mode,
        lambda: authorizer.wait_for_approval("p:x", "apr_2", timeout_s=0.02, poll_interval_s=0.005),
        lambda: authorizer.wait_for_approval_async(
            "p:x", "apr_2", timeout_s=0.02, poll_interval_s=0.005
        ),
    )
    assert not result.allowed
    assert result.reason.startswith("approval timed out")


async def test_a_poll_that_keeps_failing_stops_with_a_deny(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """Polls failing in a row end the wait early with a deny, however long the timeout."""
    platform.on("/v1/approvals/apr_3", httpx.Response(500, text="down"))
    authorizer = _authorizer(platform, spans)
    result = await either(
        mode,
        lambda: authorizer.wait_for_approval("p:x", "apr_3", timeout_s=60, poll_interval_s=0.001),
        lambda: authorizer.wait_for_approval_async(
            "p:x", "apr_3", timeout_s=60, poll_interval_s=0.001
        ),
    )
    assert not result.allowed
    assert result.reason.startswith("approval status unavailable")
    assert len(platform.calls("/v1/approvals/apr_3")) == 3


async def test_pending_without_approval_id_denies(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """A pending decision that names no approval cannot be waited for, so it denies."""
    platform.on(AUTHORIZE, decision("pending_approval"))
    with pytest.raises(NotAuthorizedException, match="without an approval id"):
        await _ensure(mode, _authorizer(platform, spans), "payments:refund")


@pytest.mark.parametrize("approval_id", ["", ".", ".."])
async def test_an_id_that_names_no_approval_is_never_polled(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter], approval_id: str
) -> None:
    """`wait_for_approval` with an empty id or a dot segment denies at once: polling it would
    read `/v1/approvals/` or another path (here answering "approved")."""
    for path in ("/v1/approvals/", "/v1/approvals", "/v1"):
        platform.on(path, httpx.Response(200, json={"status": "approved"}))
    authorizer = _authorizer(platform, spans)
    result = await either(
        mode,
        lambda: authorizer.wait_for_approval("p:x", approval_id, timeout_s=5),
        lambda: authorizer.wait_for_approval_async("p:x", approval_id, timeout_s=5),
    )
    assert not result.allowed
    assert "names no approval" in result.reason
    assert platform.requests == []


@pytest.mark.parametrize(
    ("answer", "reason_start"),
    [
        (httpx.Response(500, text="boom"), "platform answered 500"),
        (httpx.Response(503, text="busy"), "platform answered 503"),
        (httpx.Response(401, text="no"), "platform answered 401"),
        (httpx.Response(200, json={"allowed": "yes", "status": "allowed"}), "malformed decision"),
        (httpx.Response(200, json=[]), "malformed decision"),
        (httpx.Response(200, text="<html>hi</html>"), "malformed decision"),
    ],
    ids=["500", "503", "401-twice", "allowed-yes", "array", "html"],
)
async def test_bad_answers_fail_closed_with_a_reason(
    mode: str,
    platform: FakePlatform,
    spans: tuple[Tracer, InMemorySpanExporter],
    answer: httpx.Response,
    reason_start: str,
) -> None:
    """Every non-2xx or malformed answer is a deny whose reason says which."""
    platform.on(AUTHORIZE, answer)
    result = await _authorize(mode, _authorizer(platform, spans), "payments:refund")
    assert result.allowed is False
    assert result.reason.startswith(reason_start), result.reason
    (span,) = governance_spans(spans[1], A.GovernanceKinds.AUTHORIZE)
    assert span.attributes is not None
    assert span.attributes[A.AUTHZ_STATUS] == "denied"


async def test_disabled_agent_denies(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """A token endpoint answering 401 (agent disabled) makes authorization deny."""
    platform.on("/v1/oauth/token", httpx.Response(401, json={"error": "invalid_client"}))
    platform.on(AUTHORIZE, decision("allowed"))
    result = await _authorize(mode, _authorizer(platform, spans), "payments:refund")
    assert not result.allowed
    assert result.reason.startswith("agent disabled")
    assert platform.calls(AUTHORIZE) == []


async def test_unencodable_context_denies_without_a_call(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """A context JSON cannot carry is a deny, and nothing is sent."""
    result = await _authorize(
        mode, _authorizer(platform, spans), "payments:refund", context={"amount": float("nan")}
    )
    assert not result.allowed
    assert result.reason.startswith("invalid authorization request")
    assert platform.calls(AUTHORIZE) == []


async def test_llm_call_sends_model_even_when_null(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """`authorize_llm_call` asks for `llm:call` with estimatedTokens and a model key, null or not."""
    platform.on(AUTHORIZE, decision("allowed"))
    authorizer = _authorizer(platform, spans)
    await either(
        mode,
        lambda: authorizer.authorize_llm_call(1200, None),
        lambda: authorizer.authorize_llm_call_async(1200, None),
    )
    (call,) = platform.calls(AUTHORIZE)
    assert (
        call.content == b'{"permission":"llm:call","context":{"estimatedTokens":1200,"model":null}}'
    )


def test_has_permission_reads_the_token_without_authorizing(
    platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """`has_permission` matches the token's claims locally, without calling /v1/authorize."""
    platform.permissions = ["payments:*", "flights:search"]
    authorizer = _authorizer(platform, spans)
    assert authorizer.has_permission("payments:refund")
    assert authorizer.has_permission("flights:search")
    assert not authorizer.has_permission("flights:book")
    assert platform.calls(AUTHORIZE) == []
    assert len(platform.calls("/v1/oauth/token")) == 1


def test_has_permission_is_false_with_an_ingest_key(
    platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """An ingest key carries no token, so no permission can be read."""
    authorizer = _authorizer(
        platform, spans, client_id=None, client_secret=None, ingest_key="agk_demo"
    )
    assert not authorizer.has_permission("payments:refund")
    assert platform.requests == []


def test_has_permission_is_false_when_no_token_can_be_had(
    platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """A token endpoint that refuses makes `has_permission` False, not an exception."""
    platform.on("/v1/oauth/token", httpx.Response(401, json={"error": "invalid_client"}))
    assert not _authorizer(platform, spans).has_permission("payments:refund")
