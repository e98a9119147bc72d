"""An attenuation answer whose child token says it carries more than was asked fails the hop.

The platform enforces the subset invariant; the SDK hands the child token on as the narrower
authority it asked for, so a child whose own claims say otherwise (a permission no asked pattern
covers, acting for another agent, outliving the parent) is an ambiguous answer: refused, not
passed to the callee. Claims a token leaves out are not held against it.
"""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.errors import DelegationException

from .conftest import either, governance_spans, track
from .fakes import FakePlatform, make_jwt
from .test_delegation import ATTENUATE, _session

PARENT = make_jwt(
    {
        "sub": "hotel-agent",
        "grant_id": "dlg_1",
        "acting_for": "demo-agent",
        "delegation_chain": ["demo-agent", "hotel-agent"],
        "delegated_permissions": ["hotels:*"],
        "exp": 2_000_000_000,
    }
)
CHILD: dict[str, object] = {"sub": "car-agent", "grant_id": "dlg_2"}

WIDER: dict[str, dict[str, object]] = {
    "a permission not asked for": {"delegated_permissions": ["hotels:book", "payments:refund"]},
    "a pattern wider than asked": {"delegated_permissions": ["hotels:*"]},
    "acting for another agent": {"acting_for": "bank-agent"},
    "outliving the parent": {"exp": 2_000_000_001},
}


@pytest.mark.parametrize("extra", list(WIDER.values()), ids=list(WIDER))
async def test_a_child_wider_than_asked_fails_the_hop(
    mode: str,
    platform: FakePlatform,
    spans: tuple[Tracer, InMemorySpanExporter],
    extra: dict[str, object],
) -> None:
    child = make_jwt({**CHILD, **extra})
    platform.on(ATTENUATE, httpx.Response(200, json={"token": {"accessToken": child}}))
    session = _session(platform, spans, PARENT)
    with pytest.raises(DelegationException, match="malformed attenuation answer") as refused:
        await either(
            mode,
            lambda: session.attenuate_for_call("car-agent", ["hotels:book"]),
            lambda: session.attenuate_for_call_async("car-agent", ["hotels:book"]),
        )
    assert child not in str(refused.value)
    (span,) = governance_spans(spans[1], A.GovernanceKinds.ATTENUATE)
    assert span.attributes is not None
    assert span.attributes[A.AUTHZ_STATUS] == "denied"


NARROW: dict[str, dict[str, object]] = {
    "as asked": {
        "delegated_permissions": ["hotels:book"],
        "acting_for": "demo-agent",
        "exp": 2_000_000_000,
    },
    "narrower than asked": {"delegated_permissions": ["hotels:book:rome"], "exp": 1_999_999_000},
    "claims left out": {},
}


@pytest.mark.parametrize("extra", list(NARROW.values()), ids=list(NARROW))
async def test_a_child_within_what_was_asked_is_the_child(
    mode: str,
    platform: FakePlatform,
    spans: tuple[Tracer, InMemorySpanExporter],
    extra: dict[str, object],
) -> None:
    child = make_jwt({**CHILD, **extra})
    platform.on(ATTENUATE, httpx.Response(200, json={"token": {"accessToken": child}}))
    session = _session(platform, spans, PARENT)
    result = await either(
        mode,
        lambda: session.attenuate_for_call("car-agent", ["hotels:book", "hotels:book:*"]),
        lambda: session.attenuate_for_call_async("car-agent", ["hotels:book", "hotels:book:*"]),
    )
    track(result)
    assert result.token == child
