"""The platform's `Retry-After` holds back every later batch of the client, on a real loopback.

A batch answered with a `Retry-After` is not the only one it binds: no batch of the same client
goes out before the time it names. A batch that would have to wait longer than 30 s for it is
counted (`retries_exhausted`) instead of being sent early.
"""

from __future__ import annotations

from tests.support.chaos import EVENTS_PATH, Answer, ChaosServer, sequence
from tracengent import AgentEvent, EventTypes, TracengentClient

from .conftest import chaos_options


def record(client: TracengentClient, name: str) -> None:
    """Record one standalone action."""
    client.record(AgentEvent(name=name, type=EventTypes.ACTION))


def test_no_batch_is_sent_before_a_long_retry_after(chaos: ChaosServer) -> None:
    """After `Retry-After: 60` the next batches stay buffered (flushes report them undelivered)
    and the close, which cannot wait a minute, counts them: one request in all."""
    chaos.on(EVENTS_PATH, sequence(Answer(429, {}, headers=(("Retry-After", "60"),))))
    client = TracengentClient(chaos_options(chaos.url))
    for i in range(3):
        record(client, f"e-{i}")
        assert not client.force_flush(timeout=5.0)
    client.close(timeout=1.0)
    assert len(chaos.to(EVENTS_PATH)) == 1
    stats = client.delivery_stats
    assert (stats["delivered"], stats["retries_exhausted"]) == (0, 3)
    assert client.dropped_count == 3


def test_the_next_batch_waits_for_a_short_retry_after_then_goes(chaos: ChaosServer) -> None:
    """`Retry-After: 1` on a batch not retried: the next batch arrives no sooner than 1 s later."""
    chaos.on(EVENTS_PATH, sequence(Answer(429, {}, headers=(("Retry-After", "1"),))))
    client = TracengentClient(chaos_options(chaos.url, max_retries=0))
    record(client, "refused")
    assert not client.force_flush(timeout=5.0)
    record(client, "delivered")
    assert client.force_flush(timeout=5.0)
    assert client.close(timeout=1.0)
    first, second = chaos.to(EVENTS_PATH)
    assert second.at - first.at >= 1.0
    assert [event["name"] for event in chaos.acknowledged_events()] == ["delivered"]
    stats = client.delivery_stats
    assert (stats["delivered"], stats["retries_exhausted"]) == (1, 1)
