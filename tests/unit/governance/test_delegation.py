"""Delegated sessions: the delegated token is the only bearer; attenuation fails loudly."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.errors import DelegationException
from tracengent._governance import delegation
from tracengent._governance.delegation import DelegatedSession, begin_delegated_task

from .conftest import either, governance_spans, make_options, track
from .fakes import FakePlatform, decision, make_jwt

DELEGATED = make_jwt(
    {
        "sub": "hotel-agent",
        "grant_id": "dlg_1",
        "acting_for": "user_42",
        "delegation_chain": ["demo-agent", "hotel-agent"],
        "delegated_permissions": ["hotels:*"],
    }
)
ATTENUATE = "/v1/delegations/dlg_1/attenuate"


def _session(
    platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter], token: str = DELEGATED
) -> DelegatedSession:
    transport = httpx.MockTransport(platform.handle)
    session = begin_delegated_task(
        make_options(), token, tracer=spans[0], transport=transport, async_transport=transport
    )
    track(session)
    return session


def test_claims_are_read_from_the_token(
    platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """The session exposes the grant, who it acts for, the chain and the permissions."""
    session = _session(platform, spans)
    assert session.is_delegated
    assert session.grant_id == "dlg_1"
    assert session.acting_for == "user_42"
    assert session.chain == ["demo-agent", "hotel-agent"]
    assert session.delegated_permissions == ["hotels:*"]
    assert DELEGATED not in repr(session)


async def test_authorize_uses_the_delegated_token_as_bearer_only(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """Authorization sends the delegated token and never fetches or sends the agent's credentials."""
    platform.on(
        "/v1/authorize",
        decision("allowed", actingFor="user_42", chain=["demo-agent", "hotel-agent"]),
    )
    session = _session(platform, spans)
    result = await either(
        mode,
        lambda: session.authorize("hotels:book", {"amount": 90}),
        lambda: session.authorize_async("hotels:book", {"amount": 90}),
    )
    assert result.allowed
    assert result.acting_for == "user_42"
    assert platform.calls("/v1/oauth/token") == []
    (call,) = platform.calls("/v1/authorize")
    assert call.headers["authorization"] == f"Bearer {DELEGATED}"
    assert "x-ingest-key" not in call.headers
    assert b"ags_demo" not in call.content
    (span,) = governance_spans(spans[1], A.GovernanceKinds.AUTHORIZE)
    assert span.attributes is not None
    assert span.attributes[A.DELEGATION_ACTING_FOR] == "user_42"
    assert list(span.attributes[A.DELEGATION_CHAIN]) == ["demo-agent", "hotel-agent"]  # type: ignore[arg-type]


async def test_attenuation_returns_a_child_session(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """Attenuating posts the narrower grant with the delegated bearer and wraps the new token."""
    child = make_jwt({"grant_id": "dlg_2", "delegated_permissions": ["hotels:book"]})
    platform.on(
        ATTENUATE,
        httpx.Response(
            200,
            json={
                "token": {"accessToken": child, "tokenType": "Bearer", "expiresIn": 300, "jti": "j"}
            },
        ),
    )
    session = _session(platform, spans)
    result = await either(
        mode,
        lambda: session.attenuate_for_call(
            "hotel-agent", ["hotels:book"], max_amount=500, expires_in_seconds=300
        ),
        lambda: session.attenuate_for_call_async(
            "hotel-agent", ["hotels:book"], max_amount=500, expires_in_seconds=300
        ),
    )
    assert result.token == child
    assert result.grant_id == "dlg_2"
    assert platform.bodies(ATTENUATE) == [
        {
            "grantedToAgentId": "hotel-agent",
            "permissions": ["hotels:book"],
            "maxAmount": 500,
            "expiresInSeconds": 300,
        }
    ]
    assert platform.calls(ATTENUATE)[0].headers["authorization"] == f"Bearer {DELEGATED}"
    (span,) = governance_spans(spans[1], A.GovernanceKinds.ATTENUATE)
    assert span.attributes is not None
    assert span.attributes[A.AUTHZ_STATUS] == "allowed"


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(403, json={"error": "subset invariant violated"}),
        httpx.Response(500, text="down"),
        httpx.Response(200, json={"token": {"tokenType": "Bearer"}}),
        httpx.Response(200, text="<html>"),
    ],
    ids=["refused", "500", "no-access-token", "html"],
)
async def test_attenuation_failures_raise_delegation_exception(
    mode: str,
    platform: FakePlatform,
    spans: tuple[Tracer, InMemorySpanExporter],
    answer: httpx.Response,
) -> None:
    """A refused, failing or malformed attenuation is a DelegationException, never a raw error."""
    platform.on(ATTENUATE, answer)
    session = _session(platform, spans)
    with pytest.raises(DelegationException):
        await either(
            mode,
            lambda: session.attenuate_for_call("hotel-agent", ["hotels:book"]),
            lambda: session.attenuate_for_call_async("hotel-agent", ["hotels:book"]),
        )


async def test_token_without_grant_cannot_attenuate(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """A session whose token has no grant_id raises DelegationException and calls nothing."""
    session = _session(platform, spans, make_jwt({"sub": "demo-agent"}))
    assert not session.is_delegated
    with pytest.raises(DelegationException, match="grant_id"):
        await either(
            mode,
            lambda: session.attenuate_for_call("hotel-agent", ["hotels:book"]),
            lambda: session.attenuate_for_call_async("hotel-agent", ["hotels:book"]),
        )
    assert platform.requests == []


def test_empty_token_is_refused(
    platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """An empty token cannot start a delegated task."""
    with pytest.raises(DelegationException):
        _session(platform, spans, "")


async def test_async_attenuation_builds_the_child_session_off_the_event_loop(
    platform: FakePlatform,
    spans: tuple[Tracer, InMemorySpanExporter],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The child session's platform clients load the TLS trust store when they use a default
    transport (blocking work): `attenuate_for_call_async` makes it in a worker thread, never on
    the event loop's."""
    child = make_jwt({"grant_id": "dlg_2", "delegated_permissions": ["hotels:book"]})
    platform.on(
        ATTENUATE,
        httpx.Response(200, json={"token": {"accessToken": child, "tokenType": "Bearer"}}),
    )
    made_on: list[int] = []

    class Recorded(DelegatedSession):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            made_on.append(threading.get_ident())
            super().__init__(*args, **kwargs)

    session = _session(platform, spans)
    monkeypatch.setattr(delegation, "DelegatedSession", Recorded)
    result = await session.attenuate_for_call_async("hotel-agent", ["hotels:book"])
    track(result)
    assert result.grant_id == "dlg_2"
    assert made_on
    assert threading.get_ident() not in made_on
