"""`close()` after the application shut its provider down tells the truth (review 3).

An application (or its atexit hook) that calls `provider.shutdown()` before `client.close()`
already had every event delivered by that shutdown; `close()` then returned False and warned
"not every event was delivered" because the shut-down export pipeline refuses to flush. It now
returns True when nothing was dropped over the client's life, and still False when something was.
"""

from __future__ import annotations

import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider

from tracengent import AgentEvent, EventTypes, TracengentClient
from tracengent.testing import RunningPlatform


def test_close_after_the_apps_shutdown_is_true_when_all_was_delivered(
    tracengent_platform: RunningPlatform,
    app_provider: TracerProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = TracengentClient(tracengent_platform.options("demo-agent"))
    with client.begin_trace("Refund order 42") as trace:
        trace.step("checked the order")
    client.record(AgentEvent(name="notify", type=EventTypes.ACTION))
    app_provider.shutdown()  # the application's own exit path, first
    with caplog.at_level(logging.WARNING, logger="tracengent"):
        assert client.close(timeout=5.0) is True
    assert "not every event was delivered" not in caplog.text
    assert client.dropped_count == 0
    names = sorted(str(event.body["name"]) for event in tracengent_platform.store.events())
    assert names == ["checked the order", "notify"]


def test_close_after_the_apps_shutdown_is_false_when_something_was_dropped(
    tracengent_platform: RunningPlatform, app_provider: TracerProvider
) -> None:
    client = TracengentClient(tracengent_platform.options("demo-agent"))
    app_provider.shutdown()
    client.record(AgentEvent(name="too late", type=EventTypes.ACTION))  # counted after_shutdown
    assert client.dropped_count == 1
    assert client.close(timeout=5.0) is False
