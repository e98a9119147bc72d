"""A delegated token as it arrives (read from a file or a header) against the real local platform.

A trailing newline is not part of the token: the session acts with the token itself. A token that
cannot be a header value is refused up front, and no message or span ever carries the token.
"""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry.exporter.tracengent.errors import DelegationException
from tracengent._governance.delegation import begin_delegated_task
from tracengent.platform import create_grant
from tracengent.testing import RunningPlatform

from .conftest import delegated_session


def _delegated_to_hotel_agent(platform: RunningPlatform) -> str:
    _grant, issued = create_grant(
        platform.store,
        platform.policy,
        from_agent="demo-agent",
        to_agent="hotel-agent",
        permissions=["hotels:*"],
        ttl_seconds=600,
        max_amount=300,
    )
    return issued.access_token


@pytest.fixture
def recorded() -> InMemorySpanExporter:
    """Every governance span of the test, to look for the token in their attributes."""
    return InMemorySpanExporter()


@pytest.mark.parametrize("around", ["{}\n", "{}\r\n", "  {}  ", "\t{}"], ids=repr)
async def test_surrounding_whitespace_is_not_part_of_the_token(
    tracengent_platform: RunningPlatform, recorded: InMemorySpanExporter, around: str
) -> None:
    """A token read with its newline authorizes and attenuates (sync and async) as the bare one."""
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(recorded))
    token = _delegated_to_hotel_agent(tracengent_platform)
    options = tracengent_platform.options("hotel-agent", max_retries=0)
    session = delegated_session(options, around.format(token), provider.get_tracer("t"))
    assert session.token == token
    decision = session.authorize("hotels:book", {"amount": 100, "currency": "EUR"})
    assert decision.allowed, decision.reason
    decision = await session.authorize_async("hotels:book", {"amount": 100, "currency": "EUR"})
    assert decision.allowed, decision.reason
    child = session.attenuate_for_call("car-agent", ["hotels:book"], max_amount=50)
    await child.aclose()
    child = await session.attenuate_for_call_async("car-agent", ["hotels:book"], max_amount=50)
    await child.aclose()
    for span in recorded.get_finished_spans():
        assert token not in repr(dict(span.attributes or {}))
    provider.shutdown()


@pytest.mark.parametrize(
    "shape",
    ["Bearer {}", "{}\nX-Injected: 1", "{} {}", "{}\x00", "{}é"],
    ids=["scheme", "header-injection", "two-tokens", "nul", "non-ascii"],
)
def test_a_token_that_cannot_be_a_bearer_is_refused_without_echoing_it(
    tracengent_platform: RunningPlatform, shape: str
) -> None:
    """Refused before any call, with a DelegationException that never names the token."""
    token = _delegated_to_hotel_agent(tracengent_platform)
    provider = TracerProvider(shutdown_on_exit=False)
    with pytest.raises(DelegationException) as refused:
        begin_delegated_task(
            tracengent_platform.options("hotel-agent"),
            shape.format(token, token),
            tracer=provider.get_tracer("t"),
        )
    assert token not in str(refused.value)
    assert tracengent_platform.store.decisions() == []
