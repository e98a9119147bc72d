"""An agent whose SIGTERM handler closes its client while the main thread is inside one of the
pipeline's critical sections: `python signal_agent.py URL SCENARIO`.

Python runs a signal handler on the main thread, between two bytecodes of whatever that thread
was running: here, deterministically, while it holds a lock that `close()` (and the stats reads
after it) take too. The handler calls `client.close(timeout=None)` (no limit: only a deadlock
can keep it from returning), then reads `dropped_count` and `delivery_stats`; the script prints
one JSON line with what the handler saw and the counters at the end. A regression hangs here.

Scenarios (the lock held when the handler runs):
- `stats_lock`: `DeliveryStats._lock`, held by the script itself around `signal.raise_signal`.
- `dropped_count`: the same lock, held by a `client.dropped_count` read the signal interrupts.
- `wake`: the lock of the worker's wake-up, held by `on_end` as the span filling a batch wakes it.
- `force_flush`: the processor's flush lock, held by a `client.force_flush()` the signal interrupts.
- `close`: none; the signal interrupts the client's own `close()` (the handler's close must not
  wait for the close it interrupted, which cannot go on until the handler returns).
- `attach_same_agent`, `attach_other_agent`: the registry lock of `tracengent._state`, held by
  the construction of a second client on the global provider (for the same agent, which shares
  the first one's pipeline, or for another agent), interrupted in `attach_to_provider` right
  after it looked the agent's pipeline up. After the handler, the second client records
  `OTHER` events and closes; the first one records one event after its close.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any

from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider

from opentelemetry.exporter.tracengent.processor import TracengentSpanProcessor
from tracengent import AgentEvent, EventTypes, TracengentClient, TracengentOptions, _state
from tracengent._client import TracengentClient as _Client

BATCH = 5
"""`max_batch_size`: the fifth buffered span wakes the worker."""
OTHER = 3
"""Events the second client of the `attach_*` scenarios records."""
SETTLE_S = 10.0
"""How long the `attach_other_agent` scenario waits for the released pipeline's shutdown."""


def held_elsewhere(lock: Any) -> bool:
    """Whether `lock` is held (by the main thread): another thread cannot take it now."""
    taken: list[bool] = []

    def probe() -> None:
        got = bool(lock.acquire(blocking=False))
        if got:
            lock.release()
        taken.append(got)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return not taken[0]


def interrupt_at(code: CodeType, hit: Callable[[FrameType, str, Any], bool]) -> None:
    """Raise SIGTERM on this thread at the first profiler event in `code` that `hit` accepts;
    the handler runs right there, in the middle of that code."""

    def profiler(frame: FrameType, event: str, arg: Any) -> None:
        if frame.f_code is code and hit(frame, event, arg):
            sys.setprofile(None)
            signal.raise_signal(signal.SIGTERM)

    sys.setprofile(profiler)


def main() -> None:
    """Run SCENARIO against the platform at URL; print the JSON report."""
    url, scenario = sys.argv[1], sys.argv[2]

    def options(agent_id: str = "chaos-agent") -> TracengentOptions:
        return TracengentOptions(
            agent_id=agent_id,
            base_url=url,
            client_id="key_chaos",
            client_secret="ags_chaos_secret",
            flush_interval_ms=60_000,
            max_batch_size=BATCH,
            request_timeout_s=2.0,
        )

    attach = scenario.startswith("attach_")
    if attach:
        # The application's global provider: every client attaches to it (`_state`).
        otel_trace.set_tracer_provider(TracerProvider())
    client = TracengentClient(options())
    processor = client._export
    assert isinstance(processor, TracengentSpanProcessor)
    stats = processor.stats
    locks: dict[str, Callable[[], Any]] = {
        "stats_lock": lambda: stats._lock,
        "dropped_count": lambda: stats._lock,
        # An Event's lock is its condition's; a wake-up without one holds none.
        "wake": lambda: getattr(getattr(processor._wake, "_cond", None), "_lock", None),
        "force_flush": lambda: processor._flush_lock,
        "close": lambda: None,
        "attach_same_agent": lambda: _state._lock,
        "attach_other_agent": lambda: _state._lock,
    }
    report: dict[str, Any] = {"handled": False}

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        lock = locks[scenario]()
        report["lock_held"] = None if lock is None else held_elsewhere(lock)
        started = time.monotonic()
        report["closed"] = client.close(timeout=None)
        report["close_s"] = round(time.monotonic() - started, 3)
        report["dropped_count"] = client.dropped_count
        report["stats"] = client.delivery_stats
        report["shut_down_in_handler"] = processor.is_shut_down
        report["handled"] = True

    signal.signal(signal.SIGTERM, on_sigterm)
    produced = BATCH if scenario == "wake" else BATCH - 1
    for i in range(BATCH - 1):
        client.record(AgentEvent(name=f"sig-{i}", type=EventTypes.ACTION))
    if scenario == "stats_lock":
        with stats._lock:
            signal.raise_signal(signal.SIGTERM)
    elif scenario == "dropped_count":
        getter = vars(type(stats))["dropped_count"].fget
        interrupt_at(getter.__code__, lambda f, e, a: e == "c_call")
        client.dropped_count  # noqa: B018 - the read the signal interrupts
    elif scenario == "wake":
        wake = processor._wake
        cond = getattr(wake, "_cond", None)
        if cond is not None:  # a `threading.Event`: its `set` notifies under its lock
            interrupt_at(
                threading.Condition.notify_all.__code__,
                lambda f, e, a: e == "call" and f.f_locals.get("self") is cond,
            )
        else:  # a wake-up that holds no lock: interrupt its `set` all the same
            interrupt_at(type(wake).set.__code__, lambda f, e, a: e == "c_call")
        client.record(AgentEvent(name=f"sig-{BATCH - 1}", type=EventTypes.ACTION))
    elif scenario == "force_flush":
        interrupt_at(
            TracengentSpanProcessor.force_flush.__code__,
            lambda f, e, a: e == "c_call" and getattr(a, "__name__", "") == "append",
        )
        report["outer_flushed"] = client.force_flush(timeout=5.0)
    elif scenario == "close":
        interrupt_at(
            _Client._close.__code__,
            lambda f, e, a: e == "c_call" and getattr(a, "__name__", "") == "monotonic",
        )
        report["outer_closed"] = client.close(timeout=5.0)
    elif attach:
        attach_while_closing(client, options, scenario, report)
    sys.setprofile(None)
    client.close(timeout=5.0)
    report["produced"] = produced
    report["final"] = client.delivery_stats
    sys.stdout.write(json.dumps(report) + "\n")


def attach_while_closing(
    client: TracengentClient,
    options: Callable[[str], TracengentOptions],
    scenario: str,
    report: dict[str, Any],
) -> None:
    """Build a second client on the global provider, interrupted (the handler closes `client`)
    while its construction holds the registry lock, just after looking its pipeline up; then
    use both clients and report what the registry and the pipelines became."""
    first = client._export
    assert isinstance(first, TracengentSpanProcessor)
    agent = "chaos-agent" if scenario == "attach_same_agent" else "other-agent"
    interrupt_at(
        _state.attach_to_provider.__code__,
        lambda f, e, a: e == "c_return" and getattr(a, "__name__", "") == "get",
    )
    other = TracengentClient(options(agent))
    sys.setprofile(None)
    attachment = _state.attachment_of(client.tracer_provider)
    assert attachment is not None
    report["users"] = {str(k): p.users for k, p in attachment.pipelines.items()}
    report["shared"] = other._export is first
    settle = time.monotonic() + SETTLE_S
    while scenario == "attach_other_agent" and not first.is_shut_down:
        if time.monotonic() > settle:
            break
        time.sleep(0.01)
    report["first_shut_down"] = first.is_shut_down
    # After its close: counted `after_shutdown` by its released pipeline (or sent by the
    # shared one, when another client of its agent keeps it live).
    client.record(AgentEvent(name="after-close", type=EventTypes.ACTION))
    for i in range(OTHER):
        other.record(AgentEvent(name=f"other-{i}", type=EventTypes.ACTION))
    report["other_closed"] = other.close(timeout=5.0)
    report["other_final"] = other.delivery_stats


if __name__ == "__main__":
    main()
