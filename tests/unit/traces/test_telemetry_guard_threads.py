"""`TelemetryGuard` counts every failure once, from many threads at once, and in a forked child."""

from __future__ import annotations

import logging
import threading

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
