"""0.1.0 agents run unchanged: `Money` and `Actor` forms 0.1.0 accepted never raise, and a bad
cost costs an LLM call nothing but its cost.

What reads one way only is converted (`Actor(42)` is `Actor("42")`, `Money("12.50")` is 12.5);
what the wire cannot carry is left out of the event, which is still delivered, and counted in
`misuse_count` (not a drop).
"""

from __future__ import annotations

import asyncio
import enum

from opentelemetry.exporter.tracengent.wire import Actor, AgentEvent, LlmCallResult, Money
from tests.unit.traces.conftest import ClientHarness


class _Currency(enum.Enum):
    EUR = "EUR"


def test_0_1_0_money_and_actor_forms_are_delivered(client_harness: ClientHarness) -> None:
    """`Actor(42)`, `Actor("")`, `Money("12.50")`, `Money(5, "")` construct and their events are
    delivered: the convertible ones with their values, the others without the field, counted."""
    client = client_harness.client
    client.record(AgentEvent("int actor", "action", actor=Actor(42)))  # type: ignore[arg-type]
    client.record(AgentEvent("empty actor", "action", actor=Actor("")))
    client.record(AgentEvent("text amount", "action", cost=Money("12.50")))  # type: ignore[arg-type]
    client.record(AgentEvent("empty currency", "action", cost=Money(5, "")))
    client.record(AgentEvent("enum currency", "action", cost=Money(7, _Currency.EUR)))  # type: ignore[arg-type]
    assert client.close(timeout=10)
    sent = {str(event["name"]): event for event in client_harness.platform.events()}
    assert sent["int actor"]["actor"] == {"userId": "42"}
    assert "actor" not in sent["empty actor"]
    assert sent["text amount"]["cost"] == {"amount": 12.5, "currency": "USD"}
    assert "cost" not in sent["empty currency"]
    assert sent["enum currency"]["cost"] == {"amount": 7.0, "currency": "EUR"}
    assert (client.dropped_count, client.misuse_count) == (0, 2)


def test_unsendable_money_in_a_tracked_action_loses_only_the_cost(
    client_harness: ClientHarness,
) -> None:
    """A NaN amount or a `None` currency on a tracked action: the action runs and its event goes
    out with its output, without a cost (never one in the wire's default USD)."""
    client = client_harness.client
    with client.begin_trace("t") as trace:
        assert trace.track_action("nan", lambda: "ok", cost=Money(float("nan"))) == "ok"
        assert trace.track_action("none", lambda: "ok", cost=Money(3, None)) == "ok"  # type: ignore[arg-type]
    assert client.close(timeout=10)
    sent = {str(event["name"]): event for event in client_harness.platform.events()}
    for name in ("nan", "none"):
        assert "cost" not in sent[name]
        assert sent[name]["output"] == "ok"
    assert (client.dropped_count, client.misuse_count) == (0, 2)


def test_an_llm_call_with_a_cost_that_is_not_money_keeps_its_usage(
    client_harness: ClientHarness,
) -> None:
    """`LlmCallResult(cost=0.02)`: the event keeps its tokens, model and output; only the cost is
    left out, counted as misuse."""
    client = client_harness.client
    with client.begin_trace("t") as trace:
        value = trace.track_llm_call(
            "llm",
            lambda: LlmCallResult("answer", 1200, model="gpt-4o", cost=0.02),  # type: ignore[arg-type]
        )
    assert value == "answer"
    assert client.close(timeout=10)
    (event,) = [e for e in client_harness.platform.events() if e["name"] == "llm"]
    assert event["usage"] == {"tokens": 1200, "model": "gpt-4o"}
    assert event["output"] == "answer"
    assert "cost" not in event
    assert (client.dropped_count, client.misuse_count) == (0, 1)


def test_an_async_llm_call_with_an_unsendable_cost_keeps_its_usage(
    client_harness: ClientHarness,
) -> None:
    """The coroutine twin: a float given as the cost costs the event its cost only."""
    client = client_harness.client

    async def call() -> LlmCallResult:
        return LlmCallResult("answer", 7, model="m", cost=0.02)  # type: ignore[arg-type]

    async def run() -> object:
        with client.begin_trace("t") as trace:
            return await trace.track_llm_call_async("llm", call)

    assert asyncio.run(run()) == "answer"
    assert client.close(timeout=10)
    (event,) = [e for e in client_harness.platform.events() if e["name"] == "llm"]
    assert event["usage"] == {"tokens": 7, "model": "m"}
    assert event["output"] == "answer"
    assert "cost" not in event
    assert (client.dropped_count, client.misuse_count) == (0, 1)
