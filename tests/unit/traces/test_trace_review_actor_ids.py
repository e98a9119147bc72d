"""`begin_trace(root_request, actor_user_id)` takes the actor ids `Actor` takes, as `record` does.

A number stands for its text (`0` too: a falsy id is still an id), and text that is only spaces
is no actor (left out, counted as misuse), as for an `AgentEvent`'s `Actor`.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from opentelemetry.exporter.tracengent.wire import Actor, AgentEvent
from tests.unit.traces.conftest import ClientHarness


@pytest.mark.parametrize(
    ("actor_user_id", "sent"),
    [(0, "0"), (0.0, "0.0"), (Decimal(0), "0"), (7, "7"), ("u-1", "u-1")],
)
def test_a_number_actor_id_stands_for_its_text_even_when_falsy(
    client_harness: ClientHarness, actor_user_id: object, sent: str
) -> None:
    """The trace's events carry the id's text, as an event with `Actor(actor_user_id)` does."""
    client = client_harness.client
    with client.begin_trace("t", actor_user_id=actor_user_id) as trace:  # type: ignore[arg-type]
        trace.step("s")
    client.record(AgentEvent(name="e", type="action", actor=Actor(actor_user_id)))  # type: ignore[arg-type]
    assert client.close(timeout=10)
    actors = {e["name"]: e.get("actor") for e in client_harness.platform.events()}
    assert actors == {"s": {"userId": sent}, "e": {"userId": sent}}
    assert client.misuse_count == 0


def test_a_blank_actor_id_is_no_actor_as_for_an_event(client_harness: ClientHarness) -> None:
    """Spaces are no user: the trace goes out without an actor, counted as misuse once, as an
    `AgentEvent` with `Actor("  ")` is recorded."""
    client = client_harness.client
    with client.begin_trace("t", actor_user_id="  ") as trace:
        trace.step("s")
    assert client.close(timeout=10)
    (event,) = client_harness.platform.events()
    assert "actor" not in event
    assert (client.dropped_count, client.misuse_count) == (0, 1)


def test_an_empty_actor_id_is_no_actor_without_misuse(client_harness: ClientHarness) -> None:
    """`""` (and None) mean no actor, as the default does: nothing to count."""
    client = client_harness.client
    for actor_user_id in ("", None):
        with client.begin_trace("t", actor_user_id=actor_user_id) as trace:
            trace.step("s")
    assert client.close(timeout=10)
    assert [e.get("actor") for e in client_harness.platform.events()] == [None, None]
    assert client.misuse_count == 0


class _NoTruth:
    """An id-like object whose truth value raises (as a NumPy array's does)."""

    def __bool__(self) -> bool:
        raise ValueError("the truth value is ambiguous")


def test_an_actor_id_whose_truth_value_raises_does_not_raise(
    client_harness: ClientHarness,
) -> None:
    """`begin_trace` never raises: such an id is no actor, counted as misuse."""
    client = client_harness.client
    with client.begin_trace("t", actor_user_id=_NoTruth()) as trace:  # type: ignore[arg-type]
        trace.step("s")
    assert client.close(timeout=10)
    (event,) = client_harness.platform.events()
    assert "actor" not in event
    assert client.misuse_count == 1


class _NoText:
    def __str__(self) -> str:
        raise RuntimeError("no text")


def test_a_root_request_without_text_never_raises(client_harness: ClientHarness) -> None:
    """`begin_trace` never raises: a root request whose `__str__` raises is sent as its type,
    counted as misuse once, and the trace is recorded and closed."""
    client = client_harness.client
    with client.begin_trace(_NoText()) as trace:  # type: ignore[arg-type]
        trace.step("s")
    assert client.close(timeout=10)
    (event,) = client_harness.platform.events()
    assert event["rootRequest"] == "<_NoText>"
    assert (client.dropped_count, client.misuse_count) == (0, 1)
