"""`TracengentSpanProcessor`: a `force_flush` racing `shutdown` is answered, never left waiting."""

from __future__ import annotations

import threading

import pytest

from opentelemetry.exporter.tracengent import TracengentSpanExporter, TracengentSpanProcessor
from opentelemetry.exporter.tracengent import processor as processor_module
from opentelemetry.exporter.tracengent.options import TracengentOptions

from .conftest import FakePlatform


def test_a_flush_that_passed_the_closed_check_as_shutdown_ended_is_answered(
    options: TracengentOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flush asked just after the worker's last round (it saw the processor open, then shutdown
    ran to the end) returns False at once: no worker is left to answer it, and it must not wait
    out its timeout (here over ten days)."""
    platform = FakePlatform()
    exporter = TracengentSpanExporter(options, platform=platform, stop_event=platform.stop_event)
    processor = TracengentSpanProcessor(exporter, schedule_delay_ms=60_000)
    past_check = threading.Event()
    go_on = threading.Event()
    real_request = processor_module._FlushRequest

    def paused_request(failures_at_call: int) -> processor_module._FlushRequest:
        # Made right after force_flush's closed check, before the request is queued.
        past_check.set()
        go_on.wait(30)
        return real_request(failures_at_call)

    monkeypatch.setattr(processor_module, "_FlushRequest", paused_request)
    results: list[bool] = []
    flusher = threading.Thread(target=lambda: results.append(processor.force_flush(10**9)))
    flusher.start()
    assert past_check.wait(30)
    processor.shutdown()
    go_on.set()
    flusher.join(30)
    alive = flusher.is_alive()
    if alive:  # let the thread end for the next tests
        for request in processor._flush_requests:
            request.done.set()
    assert not alive, "force_flush is still waiting for a worker that has exited"
    assert results == [False]
