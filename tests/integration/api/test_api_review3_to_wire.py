"""`AgentEvent.to_wire()` is the event as the platform receives it, JSON and all, for the values
0.1.0 agents build events with (a `Decimal` amount, a `datetime` time)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

from tracengent import AgentEvent, Money, TracengentClient, Usage
from tracengent.testing import RunningPlatform


def test_to_wire_is_json_and_what_the_platform_stores(
    tracengent_platform: RunningPlatform,
) -> None:
    """An event with every field set (the environment tag its only tag) is stored as `to_wire()`."""
    event = AgentEvent(
        name="issue-invoice",
        type="action",
        event_id="evt_review3_wire",
        agent_id="demo-agent",
        cost=Money(Decimal("19.99"), "EUR"),  # type: ignore[arg-type]
        usage=Usage(12, "gpt-x"),
        occurred_at=datetime(2026, 11, 24, 10, 15, 2, 123456, tzinfo=timezone.utc),  # type: ignore[arg-type]
        duration_ms=1.5,
        tags=["production"],
    )
    wire = event.to_wire()
    text = json.dumps(wire, separators=(",", ":"), allow_nan=False)
    assert '"cost":{"amount":19.99,"currency":"EUR"}' in text
    assert '"occurredAt":"2026-11-24T10:15:02.123456+00:00"' in text
    with TracengentClient(tracengent_platform.options()) as client:
        client.record(event)
    assert client.flushed
    (stored,) = tracengent_platform.store.events()
    assert json.dumps(stored.body, separators=(",", ":")) == text


def test_naive_datetime_is_utc_as_when_recorded() -> None:
    """A naive `occurred_at` is taken as UTC, as the client records it."""
    event = AgentEvent("step", "decision", occurred_at=datetime(2026, 1, 1, 12))  # type: ignore[arg-type]
    assert event.to_wire()["occurredAt"] == "2026-01-01T12:00:00.000000+00:00"
