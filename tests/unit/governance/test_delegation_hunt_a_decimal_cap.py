"""Hunt A: a `Decimal` cap (an amount kept as money) is sent as the number it is.

`attenuate_for_call(max_amount=Decimal("100.50"))` raised `DelegationException` ("max_amount
must be a finite number >= 0, got Decimal('100.50')"), a finite number >= 0, while a `Decimal`
in an authorization's context is sent as its number. It is now sent the same way: an int when
integral, else a float; a NaN, infinite or negative `Decimal` is still refused unsent.
"""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.errors import DelegationException
from tracengent._governance.delegation import DelegatedSession, begin_delegated_task

from .conftest import either, make_options, track
from .fakes import FakePlatform, make_jwt
from .test_delegation import ATTENUATE, DELEGATED

CHILD = make_jwt({"sub": "car-agent", "grant_id": "dlg_2"})


def _session(platform: FakePlatform, tracer: Tracer) -> DelegatedSession:
    platform.on(ATTENUATE, httpx.Response(200, json={"token": {"accessToken": CHILD}}))
    transport = httpx.MockTransport(platform.handle)
    session = begin_delegated_task(
        make_options(), DELEGATED, tracer=tracer, transport=transport, async_transport=transport
    )
    track(session)
    return session


@pytest.mark.parametrize(
    ("cap", "sent"), [(Decimal("100.50"), 100.5), (Decimal("500"), 500), (Decimal("0.00"), 0)]
)
async def test_a_decimal_cap_is_sent_as_its_number(
    mode: str,
    platform: FakePlatform,
    spans: tuple[Tracer, InMemorySpanExporter],
    cap: Decimal,
    sent: float,
) -> None:
    session = _session(platform, spans[0])
    child = await either(
        mode,
        lambda: session.attenuate_for_call("car-agent", ["hotels:book"], max_amount=cap),
        lambda: session.attenuate_for_call_async("car-agent", ["hotels:book"], max_amount=cap),
    )
    track(child)
    (body,) = platform.bodies(ATTENUATE)
    assert isinstance(body, dict)
    assert body["maxAmount"] == sent
    assert type(body["maxAmount"]) is type(sent)


@pytest.mark.parametrize("cap", [Decimal("NaN"), Decimal("Infinity"), Decimal("-1")])
async def test_an_unusable_decimal_cap_is_still_refused_unsent(
    mode: str, platform: FakePlatform, spans: tuple[Tracer, InMemorySpanExporter], cap: Decimal
) -> None:
    session = _session(platform, spans[0])
    with pytest.raises(DelegationException, match="max_amount must be a finite number"):
        await either(
            mode,
            lambda: session.attenuate_for_call("car-agent", ["hotels:book"], max_amount=cap),
            lambda: session.attenuate_for_call_async("car-agent", ["hotels:book"], max_amount=cap),
        )
    assert platform.calls(ATTENUATE) == []
