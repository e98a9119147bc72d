"""An attenuation answer whose token is not a new grant's for the callee fails the hop (review 5).

`attenuate_for_call` took any bearer-shaped `accessToken` for the child: the session's own token
echoed back (its whole, wider authority handed to the callee), an agent's plain access token (no
`grant_id`), a token of the very grant being narrowed, or one naming another agent as its
subject. Each is now a `DelegationException`, the attenuate span denied, the token not quoted.
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
from .test_delegation import ATTENUATE, DELEGATED, _session

UNUSABLE: dict[str, str] = {
    "the parent's own token": DELEGATED,
    "no grant_id": make_jwt({"sub": "car-agent", "permissions": ["*"]}),
    "not a JWT": "opaque-token-without-claims",
    "the parent's grant": make_jwt({"sub": "car-agent", "grant_id": "dlg_1"}),
    "another agent's": make_jwt({"sub": "demo-agent", "grant_id": "dlg_2"}),
}


@pytest.mark.parametrize("child", list(UNUSABLE.values()), ids=list(UNUSABLE))
async def test_a_child_token_that_is_no_new_grant_for_the_callee_fails_the_hop(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter], child: str
) -> None:
    platform.on(ATTENUATE, httpx.Response(200, json={"token": {"accessToken": child}}))
    session = _session(platform, spans)
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
    assert child not in str(dict(span.attributes))


@pytest.mark.parametrize(
    "child",
    [make_jwt({"sub": "car-agent", "grant_id": "dlg_2"}), make_jwt({"grant_id": "dlg_3"})],
    ids=["subject", "no-subject"],
)
async def test_a_new_grants_token_for_the_callee_is_the_child(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter], child: str
) -> None:
    """With or without a subject claim (the SDK reads no more than the contract names)."""
    platform.on(ATTENUATE, httpx.Response(200, json={"token": {"accessToken": child}}))
    session = _session(platform, spans)
    result = await either(
        mode,
        lambda: session.attenuate_for_call("car-agent", ["hotels:book"]),
        lambda: session.attenuate_for_call_async("car-agent", ["hotels:book"]),
    )
    track(result)
    assert result.token == child
