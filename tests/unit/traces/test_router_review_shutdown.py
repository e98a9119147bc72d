"""`provider.shutdown()` shuts every pipeline in its router down at once: a slow platform does
not use up the healthy pipelines' time (they would drop `shutdown_timeout`)."""

from __future__ import annotations

import threading
import time

import httpx
from opentelemetry.sdk.trace import TracerProvider

from opentelemetry.exporter.tracengent.wire import AgentEvent
from tests.unit.traces.conftest import FakePlatform
from tests.unit.traces.test_router_review_owner import client_for


class StuckPlatform(FakePlatform):
    """Answers only once `release` is set (or after 15 s)."""

    release: threading.Event

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.release.wait(15)
        return super().__call__(request)


def test_a_slow_platform_does_not_starve_the_other_pipelines_at_provider_shutdown(
    sdk_global_provider: TracerProvider,
) -> None:
    stuck = StuckPlatform([])
    stuck.release = threading.Event()
    healthy = FakePlatform([])
    a = client_for("agent-a", stuck, flush_interval_ms=60_000)
    b = client_for("agent-b", healthy, flush_interval_ms=60_000)
    a.record(AgentEvent(name="a1", type="action"))
    b.record(AgentEvent(name="b1", type="action"))
    started = time.monotonic()
    try:
        sdk_global_provider.shutdown()
    finally:
        stuck.release.set()
    took = time.monotonic() - started
    assert [e["name"] for e in healthy.events()] == ["b1"]
    assert b.delivery_stats["shutdown_timeout"] == 0
    assert b.delivery_stats["delivered"] == 1
    assert a.delivery_stats["shutdown_timeout"] == 1  # counted, not lost
    assert took < 7.0
