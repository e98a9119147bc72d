"""The token endpoint's `Retry-After` is its not-before time, whole (sync and async).

A call waits for the token endpoint at most 30 s; the endpoint is still not asked again before
the time it named, however far that is.
"""

from __future__ import annotations

import httpx
import pytest

from opentelemetry.exporter.tracengent._http_policy import TokenUnavailableError
from opentelemetry.exporter.tracengent.token import AgentTokenProvider
from opentelemetry.exporter.tracengent.transport import DeliveryResult

from .conftest import (
    EVENT,
    EVENTS_PATH,
    TOKEN_PATH,
    FakeClock,
    HarnessFactory,
    Script,
    credentials_options,
    token_answer,
)

ACCEPTED = httpx.Response(202, json={"accepted": 1})
UNAVAILABLE_FOR_120_S = httpx.Response(503, headers={"Retry-After": "120"})


async def test_a_token_retry_after_over_the_cap_is_not_cut_short(
    script: Script, harness: HarnessFactory
) -> None:
    """A token endpoint asking for 120 s is not asked again 31 s later, only after 120 s."""
    script.on(TOKEN_PATH, UNAVAILABLE_FOR_120_S, token_answer())
    script.on(EVENTS_PATH, ACCEPTED)
    h = harness(credentials_options())
    first = await h.call("post_events", [EVENT], deadline=h.clock() + 600)
    assert isinstance(first, DeliveryResult)
    assert first.failed == 1
    h.clock.now += 31
    held = await h.call("post_events", [EVENT], deadline=h.clock() + 600)
    assert isinstance(held, DeliveryResult)
    assert held.failed == 1
    assert len(script.to(TOKEN_PATH)) == 1
    h.clock.now += 89
    assert await h.call("post_events", [EVENT]) == DeliveryResult(1, 0, 0, None, 202)
    assert len(script.to(TOKEN_PATH)) == 2


def test_the_token_provider_keeps_the_whole_retry_after_as_its_not_before_time() -> None:
    """`get_token` raises without a request until the endpoint's 120 s have passed."""
    script = Script().on(TOKEN_PATH, UNAVAILABLE_FOR_120_S, token_answer())
    clock = FakeClock()
    started = clock.now
    http = httpx.Client(transport=httpx.MockTransport(script.handle))
    tokens = AgentTokenProvider(credentials_options(), http, clock=clock)
    with pytest.raises(TokenUnavailableError) as first:
        tokens.get_token(deadline=clock.now + 5)
    assert first.value.retry_in_s == 120.0
    for later in (31.0, 119.0):
        clock.now = started + later
        with pytest.raises(TokenUnavailableError) as held:
            tokens.get_token(deadline=clock.now + 5)
        assert held.value.retry_in_s == pytest.approx(120.0 - later)
    assert len(script.requests) == 1
    clock.now = started + 120.0
    assert tokens.get_token(deadline=clock.now + 5)
    assert len(script.requests) == 2
    http.close()
