"""`trace.step(reasoning, attributes)`: attributes that are no mapping lose no step.

The step is a `decision` event whatever its attributes: when they cannot be read as a mapping
(a list, text), the step is sent without them, counted as misuse (not as a lost event), as a
cost that is not `Money` leaves the event without its cost.
"""

from __future__ import annotations

import pytest

from tests.unit.traces.conftest import ClientHarness


@pytest.mark.parametrize("attributes", [["a", "b"], "text", 42], ids=["list", "text", "number"])
def test_a_step_whose_attributes_are_no_mapping_is_sent_without_them(
    client_harness: ClientHarness, attributes: object
) -> None:
    """The step goes out without attributes; `dropped_count` stays 0, `misuse_count` is 1."""
    client = client_harness.client
    with client.begin_trace("t") as trace:
        trace.step("chose a plan", attributes=attributes)  # type: ignore[arg-type]
        trace.step("kept", attributes={"k": 1})
    assert client.close(timeout=10)
    events = {e["name"]: e for e in client_harness.platform.events()}
    assert set(events) == {"chose a plan", "kept"}
    assert events["chose a plan"]["type"] == "decision"
    assert "attributes" not in events["chose a plan"]
    assert events["kept"]["attributes"] == {"k": 1}
    assert (client.dropped_count, client.misuse_count) == (0, 1)


def test_attributes_as_key_value_pairs_are_read_as_before(client_harness: ClientHarness) -> None:
    """Pairs still make a mapping (`dict(pairs)`), as they did."""
    client = client_harness.client
    with client.begin_trace("t") as trace:
        trace.step("s", attributes=[("k", 1)])  # type: ignore[arg-type]
    assert client.close(timeout=10)
    (event,) = client_harness.platform.events()
    assert event["attributes"] == {"k": 1}
    assert client.misuse_count == 0
