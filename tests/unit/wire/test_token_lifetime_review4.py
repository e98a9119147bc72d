"""A token answer's `expires_in` of any JSON number, however large, gives a usable token."""

from __future__ import annotations

import httpx

from opentelemetry.exporter.tracengent.transport import DeliveryResult

from .conftest import (
    AGENT_TOKEN,
    ALLOW,
    AUTHORIZE_PATH,
    EVENT,
    EVENTS_PATH,
    TOKEN_PATH,
    HarnessFactory,
    Script,
    token_answer,
)


async def test_an_expires_in_beyond_a_float_is_a_long_lived_token(
    script: Script, harness: HarnessFactory
) -> None:
    """`expires_in: 10**400` (valid JSON, no float holds it) is a token living the longest the
    provider allows: it is used and cached, not an internal error refetched on every call."""
    script.on(TOKEN_PATH, token_answer(AGENT_TOKEN, 10**400))
    script.on(AUTHORIZE_PATH, httpx.Response(200, json=ALLOW))
    script.on(EVENTS_PATH, httpx.Response(202))
    h = harness()
    decision = await h.call("authorize", {"permission": "payments:refund"})
    assert getattr(decision, "allowed", None) is True
    result = await h.call("post_events", [EVENT])
    assert isinstance(result, DeliveryResult)
    assert (result.delivered, result.failed) == (1, 0)
    h.clock.now += 86_400
    await h.call("post_events", [EVENT])
    assert len(script.to(TOKEN_PATH)) == 1


async def test_an_expires_in_below_a_float_is_a_one_second_token(
    script: Script, harness: HarnessFactory
) -> None:
    """`expires_in: -10**400` is nonsense read as the shortest lifetime (1 s): the token is still
    used, and the next fetch waits half of that second."""
    script.on(TOKEN_PATH, token_answer(AGENT_TOKEN, -(10**400)))
    script.on(EVENTS_PATH, httpx.Response(202))
    h = harness()
    result = await h.call("post_events", [EVENT])
    assert isinstance(result, DeliveryResult)
    assert (result.delivered, result.failed) == (1, 0)
    await h.call("post_events", [EVENT])
    assert len(script.to(TOKEN_PATH)) == 1
    h.clock.now += 1
    await h.call("post_events", [EVENT])
    assert len(script.to(TOKEN_PATH)) == 2
