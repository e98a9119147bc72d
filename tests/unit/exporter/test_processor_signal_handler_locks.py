"""`TracengentSpanProcessor` shut down by a thread that holds the stats' lock (as a signal handler
does when it interrupts its thread inside a count): no deadlock with the worker, nothing lost.

The handler's thread holds `DeliveryStats`' (reentrant) lock for as long as the handler runs.
The worker, woken to export, waits for that lock to open its batch; it must not hold
`_take_lock` meanwhile, which the shutdown takes to abandon it. The subprocess tests in
`tests/reliability/test_signal_handler_close.py` deliver real signals; this one pins the order.
"""

from __future__ import annotations

import threading
import time

from opentelemetry.exporter.tracengent import TracengentSpanExporter, TracengentSpanProcessor
from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.options import TracengentOptions

from .conftest import FakePlatform, SpanMaker


def test_a_shutdown_holding_the_stats_lock_while_the_worker_waits_for_it_returns(
    options: TracengentOptions, make_span: SpanMaker
) -> None:
    """The worker, woken while another thread holds the stats' lock, waits for it without
    holding `_take_lock`; that thread's shutdown (with no time limit) returns at once and counts
    every buffered span `shutdown_timeout`; the worker's late counts add nothing."""
    platform = FakePlatform()
    exporter = TracengentSpanExporter(options, platform=platform, stop_event=platform.stop_event)
    processor = TracengentSpanProcessor(exporter, schedule_delay_ms=60_000)
    for i in range(3):
        processor.on_end(make_span(f"e{i}", {A.EVENT_TYPE: "action"}))
    stats = exporter.stats
    results: list[float] = []

    def handler_thread() -> None:
        with stats._lock:
            processor._wake.set()  # the worker wakes and waits for the stats' lock
            time.sleep(0.3)
            started = time.monotonic()
            processor.shutdown(timeout_millis=10**9)
            results.append(time.monotonic() - started)

    thread = threading.Thread(target=handler_thread, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "the shutdown and the worker wait for each other"
    assert results[0] < 2.0
    assert stats.dropped_by_reason()["shutdown_timeout"] == 3
    processor._worker.join(5)
    assert not processor._worker.is_alive()
    assert stats.delivered == 0
    assert stats.dropped_count == 3
    assert platform.events == []
