"""`close(timeout)` never raises and still flushes, whatever timeout a 0.1.0 agent passes: None
or an infinity ("as long as it takes"), NaN or text (misuse: the default), a negative (no wait)."""

from __future__ import annotations

import math

import pytest

from tracengent import AgentEvent, TracengentClient
from tracengent.testing import RunningPlatform


@pytest.mark.parametrize("timeout", [None, math.inf, 1e300, 10**400])
def test_close_without_limit_delivers_everything(
    tracengent_platform: RunningPlatform, timeout: object
) -> None:
    """No limit: close waits for delivery, returns True, and a second close says the same."""
    client = TracengentClient(tracengent_platform.options())
    client.record(AgentEvent("issue-invoice", "action"))
    assert client.close(timeout) is True  # type: ignore[arg-type]
    assert client.close() is True
    assert [e.body["name"] for e in tracengent_platform.store.events()] == ["issue-invoice"]
    assert client.dropped_count == 0


@pytest.mark.parametrize("timeout", [math.nan, "5", True])
def test_close_with_a_timeout_that_is_no_number_waits_the_default(
    tracengent_platform: RunningPlatform, timeout: object
) -> None:
    """Not a number of seconds: logged and counted as misuse, and close waits its default 5 s."""
    client = TracengentClient(tracengent_platform.options())
    client.record(AgentEvent("issue-invoice", "action"))
    assert client.close(timeout) is True  # type: ignore[arg-type]
    assert client.misuse_count == 1
    assert [e.body["name"] for e in tracengent_platform.store.events()] == ["issue-invoice"]


@pytest.mark.parametrize("timeout", [None, math.inf, math.nan])
def test_force_flush_takes_the_same_timeouts(
    tracengent_platform: RunningPlatform, timeout: object
) -> None:
    """`force_flush` reads its timeout as `close` does, and never raises."""
    with TracengentClient(tracengent_platform.options()) as client:
        client.record(AgentEvent("issue-invoice", "action"))
        assert client.force_flush(timeout) is True  # type: ignore[arg-type]
        assert [e.body["name"] for e in tracengent_platform.store.events()] == ["issue-invoice"]
