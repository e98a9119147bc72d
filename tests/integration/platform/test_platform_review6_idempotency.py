"""An event's `idempotencyKey` deduplicates it even when it carries an `eventId` too, as every event
the SDK sends does (its eventId comes from the span, new on each recording)."""

from __future__ import annotations

import httpx

from tests.integration.platform.conftest import AgentClient
from tracengent.testing import RunningPlatform


def _event(event_id: str, key: str, **extra: object) -> dict[str, object]:
    return {
        "eventId": event_id,
        "idempotencyKey": key,
        "type": "action",
        "name": event_id,
        "status": "success",
        **extra,
    }


def test_a_second_event_with_the_same_idempotency_key_is_a_duplicate(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """The same logical event recorded twice (two eventIds, one idempotencyKey) is stored once."""
    first = demo.post("/v1/ingest/events", json=[_event("evt_a", "refund-order-42")])
    assert first.json() == {"accepted": 1, "stored": 1, "duplicates": 0}
    again = demo.post("/v1/ingest/events", json=[_event("evt_b", "refund-order-42")])
    assert again.json() == {"accepted": 1, "stored": 0, "duplicates": 1}
    assert [e.body["eventId"] for e in tracengent_platform.store.events()] == ["evt_a"]


def test_one_batch_holding_a_key_twice_stores_it_once(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """Within one batch too, the second event of a key is the duplicate."""
    batch = [_event("evt_a", "k"), _event("evt_b", "k"), _event("evt_c", "other")]
    assert demo.post("/v1/ingest/events", json=batch).json() == {
        "accepted": 3,
        "stored": 2,
        "duplicates": 1,
    }
    assert [e.body["eventId"] for e in tracengent_platform.store.events()] == ["evt_a", "evt_c"]


def test_a_duplicate_llm_call_counts_its_tokens_once(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """An llm_call re-recorded under its idempotencyKey does not count its tokens a second time."""
    call = {"type": "llm_call", "usage": {"tokens": 120, "model": "m"}}
    demo.post("/v1/ingest/events", json=[_event("evt_a", "call-1", **call)])
    demo.post("/v1/ingest/events", json=[_event("evt_b", "call-1", **call)])
    assert tracengent_platform.store.token_usage("demo-agent").used == 120


def test_the_key_is_still_the_sending_agents_own(
    demo: httpx.Client, agent_client: AgentClient, tracengent_platform: RunningPlatform
) -> None:
    """Another agent's event with the same idempotencyKey is not a duplicate of demo-agent's."""
    hotel = agent_client("hotel-agent")
    demo.post("/v1/ingest/events", json=[_event("evt_a", "shared")])
    answer = hotel.post("/v1/ingest/events", json=[_event("evt_b", "shared")])
    assert answer.json()["stored"] == 1
    assert [e.agent_id for e in tracengent_platform.store.events()] == ["demo-agent", "hotel-agent"]
