"""`TracengentSpanProcessor`: a `force_flush` racing `shutdown` is answered, never left waiting."""

from __future__ import annotations

import threading

import pytest

from opentelemetry.exporter.tracengent import TracengentSpanExporter, TracengentSpanProcessor
from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent import processor as processor_module
from opentelemetry.exporter.tracengent.options import TracengentOptions

from .conftest import FakePlatform, SpanMaker


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


@pytest.mark.parametrize("timeout", [None, "5000", object()])
def test_shutdown_with_a_timeout_that_is_no_number_never_raises_and_still_delivers(
    options: TracengentOptions, make_span: SpanMaker, timeout: object
) -> None:
    """`shutdown(timeout)` never raises (its promise): a timeout that is no number is counted
    an internal error and the default bound is used, so what is buffered is still delivered and
    the worker stops (before, the TypeError left the processor closed with its worker running)."""
    platform = FakePlatform()
    exporter = TracengentSpanExporter(options, platform=platform, stop_event=platform.stop_event)
    processor = TracengentSpanProcessor(exporter, schedule_delay_ms=60_000)
    processor.on_end(make_span("a", {A.EVENT_TYPE: "action"}))
    processor.shutdown(timeout)  # type: ignore[arg-type]
    assert processor.is_shut_down
    assert exporter.stats.delivered == 1
    assert exporter.stats.internal_errors == 1
    assert processor._stopped.is_set()


def test_an_exit_flush_timeout_that_is_no_number_does_not_stop_the_other_processors(
    options: TracengentOptions, make_span: SpanMaker
) -> None:
    """The exit hook shuts every processor down together: one built with an odd
    `exit_flush_timeout_ms` must not keep the others' buffers from being delivered."""
    platforms = [FakePlatform(), FakePlatform()]
    exporters = [
        TracengentSpanExporter(options, platform=p, stop_event=p.stop_event) for p in platforms
    ]
    odd = TracengentSpanProcessor(
        exporters[0],
        schedule_delay_ms=60_000,
        exit_flush_timeout_ms="5s",  # type: ignore[arg-type]
    )
    other = TracengentSpanProcessor(exporters[1], schedule_delay_ms=60_000)
    for processor in (odd, other):
        processor.on_end(make_span("a", {A.EVENT_TYPE: "action"}))
    odd._flush_at_exit()
    assert (odd.is_shut_down, other.is_shut_down) == (True, True)
    assert [e.stats.delivered for e in exporters] == [1, 1]
