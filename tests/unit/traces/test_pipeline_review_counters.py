"""The documented counters stay exact: misuse that loses no event is counted apart.

`dropped_count` is every event not delivered and `recording_failed` every event never recorded;
a misused call whose event is delivered all the same (an unknown `complete()` status, a tracked
LLM call that returns no `LlmCallResult`, a cost that is not `Money`, an actor id that is not
text) is logged and counted in `misuse_count` instead.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from opentelemetry.exporter.tracengent.wire import AgentEvent, Money
from tests.unit.traces.conftest import ClientHarness
from tracengent import AgentTrace, TracengentClient


def closes_sent(harness: ClientHarness) -> int:
    """How many trace closes reached the fake platform."""
    return sum(r.url.path == "/v1/ingest/traces" for r in harness.platform.requests)


def llm_returning_text(trace: AgentTrace) -> None:
    trace.track_llm_call("plain-return", lambda: "a string, not an LlmCallResult")  # type: ignore[arg-type, return-value]


def action_with_cost_not_money(trace: AgentTrace) -> None:
    trace.track_action("priced", lambda: 1, cost=42)  # type: ignore[arg-type]


def unknown_status(trace: AgentTrace) -> None:
    trace.step("s")
    trace.complete("done")


@pytest.mark.parametrize(
    "misuse",
    [llm_returning_text, action_with_cost_not_money, unknown_status],
    ids=["llm_call_without_result", "cost_not_money", "unknown_complete_status"],
)
def test_misuse_whose_event_is_delivered_is_no_drop(
    client_harness: ClientHarness, misuse: Callable[[AgentTrace], None]
) -> None:
    """The event and the trace close go out: `dropped_count` and `recording_failed` stay 0,
    `close()` reports success, and the misuse is counted once in `misuse_count`."""
    client = client_harness.client
    with client.begin_trace("t") as trace:
        misuse(trace)
    assert client.close(timeout=10)
    assert len(client_harness.platform.events()) == 1
    assert closes_sent(client_harness) == 1
    assert client.dropped_count == 0
    assert client.delivery_stats["recording_failed"] == 0
    assert client.misuse_count == client.delivery_stats["misuse"] == 1


def test_an_actor_id_that_is_not_text_loses_no_event(client_harness: ClientHarness) -> None:
    """`begin_trace(actor_user_id=["u-7"])`: the trace goes out without an actor, counted as
    misuse (a number stands for its text, as in `Actor`)."""
    client = client_harness.client
    with client.begin_trace("t", actor_user_id=["u-7"]) as trace:  # type: ignore[arg-type]
        trace.step("s")
    assert client.close(timeout=10)
    assert [e["name"] for e in client_harness.platform.events()] == ["s"]
    assert (client.dropped_count, client.misuse_count) == (0, 1)


def test_an_event_never_recorded_is_still_a_drop(client_harness: ClientHarness) -> None:
    """`record(None)` loses its event: counted in `recording_failed` and `dropped_count`, and
    not as misuse that lost nothing."""
    client: TracengentClient = client_harness.client
    client.record(None)  # type: ignore[arg-type]
    client.record(AgentEvent(name="kept", type="action", cost=Money.usd(1)))
    assert client.close(timeout=10)
    assert client.delivery_stats["recording_failed"] == client.dropped_count == 1
    assert client.misuse_count == 0
