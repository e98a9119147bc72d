"""`TelemetryGuard` counts every failure once, from many threads at once, in a forked child, and
from a signal handler that interrupts its own thread's count."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from tests.unit.exporter.test_fork_safety import in_child
from tracengent._recording import TelemetryGuard

_THREADS = 8
_EACH = 5_000


def test_failures_from_many_threads_are_each_counted(caplog: pytest.LogCaptureFixture) -> None:
    """8 threads failing 5 000 times each: 40 000 counted, and one warning logged."""
    guard = TelemetryGuard()
    start = threading.Barrier(_THREADS)

    def fail_often() -> None:
        start.wait()
        for _ in range(_EACH):
            guard.failed("recording", "boom")

    threads = [threading.Thread(target=fail_often) for _ in range(_THREADS)]
    with caplog.at_level(logging.WARNING, logger="tracengent.trace"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert guard.failures == _THREADS * _EACH
    assert len([r for r in caplog.records if "recording failed" in r.getMessage()]) == 1


def test_a_forked_child_counts_with_a_lock_of_its_own() -> None:
    """The lock held by another thread at the fork does not block the child's guard."""
    guard = TelemetryGuard()
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with guard._lock:
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(10)
    try:

        def scenario() -> dict[str, object]:
            guard.failed("recording", "in the child")
            return {"failures": guard.failures}

        report = in_child(scenario)
    finally:
        release.set()
        holder.join()
    assert report == {"failures": 1}


class _InterruptedOnEntry:
    """The guard's own lock, its thread interrupted by `handler` as soon as it holds it, as a
    signal handler runs when the C call that took the lock returns."""

    def __init__(self, lock: AbstractContextManager[object], handler: Callable[[], None]) -> None:
        self._lock = lock
        self._handler: Callable[[], None] | None = handler

    def __enter__(self) -> object:
        entered = self._lock.__enter__()
        handler, self._handler = self._handler, None
        if handler is not None:
            handler()
        return entered

    def __exit__(self, *exc_info: object) -> None:
        self._lock.__exit__(None, None, None)


def test_a_signal_handler_failing_inside_the_guards_lock_is_counted() -> None:
    """A handler that fails while its thread holds the guard's lock (counting a failure) is
    counted, and both return: a plain lock would wait for itself forever."""
    guard = TelemetryGuard()
    guard._lock = _InterruptedOnEntry(  # type: ignore[assignment]
        guard._lock, lambda: guard.failed("a signal handler's span", "boom")
    )
    counting = threading.Thread(target=guard.failed, args=("recording", "boom"), daemon=True)
    counting.start()
    counting.join(10)
    assert not counting.is_alive(), "the guard waited for the lock its own thread holds"
    assert guard.failures == 2
