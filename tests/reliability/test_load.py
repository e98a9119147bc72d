"""Load against the REAL local platform: 8 threads and 50 asyncio tasks recording at once, ~1.5 s.

Every event is accounted for (stored == delivered, stored + counted drops == produced), none is
stored twice, and each decision trace's events carry its own traceId and parent chain.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict

from tracengent import AgentEvent, EventTypes, TracengentClient
from tracengent.testing import RunningPlatform

from .conftest import ROWS, ScenarioRow

RUN_S = 1.5
THREADS, THREAD_TRACES, THREAD_EVENTS = 8, 15, 10
TASKS, TASK_TRACES, TASK_EVENTS = 50, 4, 5


async def test_concurrent_recording_is_fully_accounted_and_never_mixed(
    tracengent_platform: RunningPlatform,
) -> None:
    """Threads and tasks record traces concurrently: nothing lost, duplicated or crossed."""
    client = TracengentClient(tracengent_platform.options(flush_interval_ms=100))
    deadline = time.monotonic() + RUN_S
    produced: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def thread_worker(worker: int) -> None:
        count = 0
        try:
            for t in range(THREAD_TRACES):
                if time.monotonic() >= deadline:
                    break
                with client.begin_trace(f"thread {worker} trace {t}"):
                    for i in range(THREAD_EVENTS):
                        client.record(
                            AgentEvent(name=f"th{worker}-t{t}-e{i}", type=EventTypes.ACTION)
                        )
                        count += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        with lock:
            produced.append(count)

    async def task_worker(worker: int) -> int:
        count = 0
        for t in range(TASK_TRACES):
            if time.monotonic() >= deadline:
                break
            async with client.begin_trace(f"task {worker} trace {t}"):
                for i in range(TASK_EVENTS):
                    client.record(AgentEvent(name=f"tk{worker}-t{t}-e{i}", type=EventTypes.ACTION))
                    count += 1
                    await asyncio.sleep(0)  # interleave the tasks inside their traces
        return count

    threads = [threading.Thread(target=thread_worker, args=(w,)) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    task_counts = await asyncio.gather(*(task_worker(w) for w in range(TASKS)))
    for thread in threads:
        thread.join(timeout=RUN_S + 5)
    # A thread still recording would make the counts below compare against a partial total.
    assert not any(thread.is_alive() for thread in threads)
    assert not errors
    started = time.monotonic()
    # Generous: this test is about accounting on a shared CI machine, not close() speed.
    flushed = await client.aclose(timeout=20.0)
    close_s = time.monotonic() - started
    stats = client.delivery_stats

    total = sum(produced) + sum(task_counts)
    drops = sum(
        v
        for k, v in stats.items()
        if k
        not in ("delivered", "traces_closed", "payloads_omitted", "payloads_withheld", "misuse")
    )
    stored = [e.body for e in tracengent_platform.store.events()]
    names = [str(e["name"]) for e in stored]
    counted = (
        ", ".join(
            f"{k}={v}" for k, v in stats.items() if v and k not in ("delivered", "traces_closed")
        )
        or "-"
    )
    ROWS.append(
        ScenarioRow(
            "load: 8 threads + 50 tasks, real platform",
            total,
            len(stored),
            counted,
            total - len(stored) - drops,
            len(errors),
            "-",
            close_s,
        )
    )
    assert flushed, (stats, total, close_s)
    assert close_s < 20.25
    assert len(names) == len(set(names))  # no duplicates
    assert len({e["eventId"] for e in stored}) == len(stored)
    assert stats["delivered"] == len(stored)
    assert len(stored) + drops == total, (stats, total)

    by_trace: dict[str, dict[int, dict[str, object]]] = defaultdict(dict)
    for stored_event in stored:
        prefix, _, position = str(stored_event["name"]).rpartition("-e")
        by_trace[prefix][int(position)] = dict(stored_event)
    trace_ids: set[object] = set()
    for prefix, events in by_trace.items():
        ids = {e["traceId"] for e in events.values()}
        assert len(ids) == 1, prefix  # one trace per recording loop
        trace_ids |= ids
        for index, event in events.items():
            if index > 0 and index - 1 in events:
                assert event["parentEventId"] == events[index - 1]["eventId"], prefix
    assert len(trace_ids) == len(by_trace)  # no two loops share a trace
    assert total >= THREADS + TASKS
