"""An attenuation request the wire contract cannot carry is a DelegationException, sent nowhere."""

from __future__ import annotations

import math

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.errors import DelegationException
from tracengent._governance.delegation import begin_delegated_task

from .conftest import either, governance_spans, make_options, track
from .fakes import FakePlatform, make_jwt
from .test_delegation import ATTENUATE, DELEGATED

CHILD = make_jwt({"sub": "car-agent", "grant_id": "dlg_2"})

BAD_REQUESTS: list[tuple[str, dict[str, object]]] = [
    ("callee None", {"callee_agent_id": None}),
    ("callee empty", {"callee_agent_id": " "}),
    ("permissions None", {"permissions": None}),
    ("permissions an int", {"permissions": 5}),
    ("no permissions", {"permissions": []}),
    ("a permission that is None", {"permissions": ["hotels:book", None]}),
    ("an empty permission", {"permissions": [""]}),
    ("max_amount NaN", {"max_amount": math.nan}),
    ("max_amount infinite", {"max_amount": math.inf}),
    ("max_amount negative", {"max_amount": -1}),
    ("max_amount a string", {"max_amount": "100"}),
    ("max_amount a bool", {"max_amount": True}),
    ("expires_in_seconds zero", {"expires_in_seconds": 0}),
    ("expires_in_seconds a float", {"expires_in_seconds": 1.5}),
    ("expires_in_seconds a bool", {"expires_in_seconds": True}),
    ("reason an int", {"reason": 7}),
]


@pytest.mark.parametrize(
    "overrides", [o for _, o in BAD_REQUESTS], ids=[i for i, _ in BAD_REQUESTS]
)
async def test_a_malformed_attenuation_is_refused_before_sending(
    mode: str,
    platform: FakePlatform,
    spans: tuple[Tracer, InMemorySpanExporter],
    overrides: dict[str, object],
) -> None:
    """Never a TypeError, and never a request the platform might read as something wider."""
    platform.on(ATTENUATE, httpx.Response(200, json={"token": {"accessToken": CHILD}}))
    transport = httpx.MockTransport(platform.handle)
    session = begin_delegated_task(
        make_options(), DELEGATED, tracer=spans[0], transport=transport, async_transport=transport
    )
    track(session)
    arguments: dict[str, object] = {
        "callee_agent_id": "car-agent",
        "permissions": ["hotels:book"],
        **overrides,
    }
    with pytest.raises(DelegationException, match="cannot attenuate"):
        await either(
            mode,
            lambda: session.attenuate_for_call(**arguments),  # type: ignore[arg-type]
            lambda: session.attenuate_for_call_async(**arguments),  # type: ignore[arg-type]
        )
    assert platform.calls(ATTENUATE) == []


async def test_a_well_formed_attenuation_is_sent_as_given(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """The checks let every contract-shaped request through: one permission string, an int cap."""
    platform.on(ATTENUATE, httpx.Response(200, json={"token": {"accessToken": CHILD}}))
    transport = httpx.MockTransport(platform.handle)
    session = begin_delegated_task(
        make_options(), DELEGATED, tracer=spans[0], transport=transport, async_transport=transport
    )
    track(session)
    child = await either(
        mode,
        lambda: session.attenuate_for_call(
            "car-agent", "hotels:book", max_amount=0, expires_in_seconds=60, reason="hop"
        ),
        lambda: session.attenuate_for_call_async(
            "car-agent", "hotels:book", max_amount=0, expires_in_seconds=60, reason="hop"
        ),
    )
    track(child)
    assert child.grant_id == "dlg_2"
    assert platform.bodies(ATTENUATE) == [
        {
            "grantedToAgentId": "car-agent",
            "permissions": ["hotels:book"],
            "maxAmount": 0,
            "expiresInSeconds": 60,
            "reason": "hop",
        }
    ]


async def test_an_unusable_child_token_is_a_denied_attenuation_span(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """A child token that cannot be a bearer fails the hop, and its span says denied, not allowed."""
    platform.on(ATTENUATE, httpx.Response(200, json={"token": {"accessToken": f"{CHILD} x"}}))
    transport = httpx.MockTransport(platform.handle)
    session = begin_delegated_task(
        make_options(), DELEGATED, tracer=spans[0], transport=transport, async_transport=transport
    )
    track(session)
    with pytest.raises(DelegationException) as refused:
        await either(
            mode,
            lambda: session.attenuate_for_call("car-agent", ["hotels:book"]),
            lambda: session.attenuate_for_call_async("car-agent", ["hotels:book"]),
        )
    assert CHILD not in str(refused.value)
    (span,) = governance_spans(spans[1], A.GovernanceKinds.ATTENUATE)
    assert span.attributes is not None
    assert span.attributes[A.AUTHZ_STATUS] == "denied"
    assert CHILD not in str(span.attributes[A.AUTHZ_REASON])
