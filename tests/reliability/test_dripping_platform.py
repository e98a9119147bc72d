"""A platform that drips its answer: every read is quick, the whole answer far slower than the
call may take. Each read's timeout alone would never fire; the request's own bound must."""

from __future__ import annotations

import pytest

from tests.support.chaos import EVENTS_PATH, TOKEN_PATH, ChaosServer, Drip, make_jwt, sequence
from tracengent import TracengentClient

from .conftest import chaos_options

# One byte every 0.1 s: the allow below takes about 8 s to arrive, against a 1 s bound.
ALLOW = {"allowed": True, "status": "allowed", "reason": "ok", "decisionId": "dec_drip"}
INTERVAL_S = 0.1


def _dripping(chaos: ChaosServer, path: str) -> Drip:
    drip = Drip(ALLOW, INTERVAL_S)
    chaos.on(path, sequence(drip))
    return drip


def test_an_authorization_dripped_past_the_governance_timeout_is_denied(
    chaos: ChaosServer,
) -> None:
    """The allow would arrive whole, byte by byte, long after `governance_timeout_s`: the call
    gives up at its bound and denies (fail closed), never taking the late allow."""
    drip = _dripping(chaos, "/v1/authorize")
    with TracengentClient(chaos_options(chaos.url, governance_timeout_s=1.0)) as client:
        decision = client.authorize("payments:refund")
    assert decision.allowed is False
    assert decision.reason == "platform timed out"
    assert 0 < drip.written < len(drip.encoded())
    assert not drip.finished.is_set()


@pytest.mark.asyncio
async def test_an_async_authorization_dripped_past_the_governance_timeout_is_denied(
    chaos: ChaosServer,
) -> None:
    """The same through the async client."""
    drip = _dripping(chaos, "/v1/authorize")
    client = TracengentClient(chaos_options(chaos.url, governance_timeout_s=1.0))
    try:
        decision = await client.authorize_async("payments:refund")
    finally:
        await client.aclose()
    assert decision.allowed is False
    assert decision.reason == "platform timed out"
    assert 0 < drip.written < len(drip.encoded())


def test_a_dripped_ingest_answer_does_not_hold_delivery(chaos: ChaosServer) -> None:
    """The worker's request gives up at `request_timeout_s` and retries: the events still arrive
    (the retry is answered at once), rather than the worker waiting out the drip."""
    drip = Drip({"accepted": 1, "stored": 1, "duplicates": 0}, INTERVAL_S)
    chaos.on(EVENTS_PATH, sequence(drip))
    with TracengentClient(chaos_options(chaos.url, request_timeout_s=1.0)) as client:
        with client.begin_trace("drip") as trace:
            trace.step("one")
        assert client.force_flush(timeout=20.0) is True
    assert [event["name"] for event in chaos.acknowledged_events()] == ["one"]
    assert 0 < drip.written < len(drip.encoded())
    assert len(chaos.to(EVENTS_PATH)) == 2


def test_a_token_dripped_past_the_governance_timeout_denies(chaos: ChaosServer) -> None:
    """The token the authorization needs is dripped: the fetch gives up within the call's
    bound, and the call denies instead of waiting out the token and then asking."""
    token = Drip(
        {"access_token": make_jwt({"sub": "chaos-agent"}), "token_type": "Bearer"}, INTERVAL_S
    )
    chaos.on(TOKEN_PATH, sequence(token))
    with TracengentClient(chaos_options(chaos.url, governance_timeout_s=1.0)) as client:
        decision = client.authorize("payments:refund")
    assert decision.allowed is False
    assert 0 < token.written < len(token.encoded())
    assert chaos.to("/v1/authorize") == []
