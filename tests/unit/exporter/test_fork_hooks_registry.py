"""One process-wide pair of fork hooks (`_weak.at_fork`), not one pair per object.

`os.register_at_fork` keeps every hook for ever: a client, exporter and processor each
registering their own made a process that creates a client per request grow without bound.
"""

from __future__ import annotations

import gc
import os
import weakref
from collections.abc import Callable

import pytest

from opentelemetry.exporter.tracengent._weak import _ForkEntry, _ForkHooks, at_fork
from opentelemetry.exporter.tracengent.exporter import TracengentSpanExporter
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.processor import TracengentSpanProcessor
from tracengent import TracengentClient

from .test_fork_safety import in_child

_OURS = (
    "tracengent",
    "opentelemetry.exporter.tracengent",
    "opentelemetry.instrumentation.tracengent",
)


class _Target:
    """An object with fork hooks that say they ran."""

    def __init__(self, name: str, calls: list[str]) -> None:
        self.name = name
        self.calls = calls

    def before(self) -> None:
        self.calls.append(f"before {self.name}")

    def after(self) -> None:
        self.calls.append(f"after {self.name}")

    def fail(self) -> None:
        raise RuntimeError(f"{self.name} cannot reset")


def test_pipelines_register_no_fork_hooks_of_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients, exporters and processors made one after another add no `os.register_at_fork`
    hook of ours each (the process-wide pair is registered once, by the first)."""
    registered: list[object] = []
    real = os.register_at_fork

    def counting(**hooks: Callable[[], object]) -> None:
        # Ours only: OTel's `TracerProvider` registers one of its own per provider.
        modules = {getattr(hook, "__module__", "") or "" for hook in hooks.values()}
        if any(module.startswith(_OURS) for module in modules):
            registered.append(hooks)
        real(**hooks)

    monkeypatch.setattr(os, "register_at_fork", counting)
    options = TracengentOptions(agent_id="a", base_url="http://127.0.0.1:9", ingest_key="agk_x")
    for _ in range(20):
        TracengentSpanProcessor(TracengentSpanExporter(options)).shutdown()
        TracengentClient(options).close()
    assert len(registered) <= 1


def test_entries_of_collected_objects_are_dropped() -> None:
    """10 000 objects registered and collected one after another: the list stays short."""
    hooks = _ForkHooks()
    hooks.registered = True  # a registry of the test's own: no process hooks
    longest = 0
    for _ in range(10_000):
        target = _Target("short-lived", [])
        hooks.add(_ForkEntry(weakref.ref(target), None, _Target.after))
        del target
        longest = max(longest, hooks.held())
    assert longest <= _ForkHooks.SLACK + 1
    kept = [_Target(str(index), []) for index in range(100)]
    for target in kept:
        hooks.add(_ForkEntry(weakref.ref(target), None, _Target.after))
    # Live entries are never dropped.
    live = {entry.target() for entry in hooks.entries} - {None}
    assert live == set(kept)


def test_hooks_run_in_order_and_a_failing_one_keeps_the_rest() -> None:
    """`before` hooks run last-registered first, `after_in_child` in registration order, and
    one object's failing hook does not keep the next object's from running."""
    calls: list[str] = []
    first, broken, last = _Target("first", calls), _Target("broken", calls), _Target("last", calls)
    at_fork(first, before=_Target.before, after_in_child=_Target.after)
    at_fork(broken, after_in_child=_Target.fail)
    at_fork(last, before=_Target.before, after_in_child=_Target.after)
    report = in_child(lambda: {"calls": list(calls)})
    assert report["calls"] == ["before last", "before first", "after first", "after last"]
    # The parent ran the `before` hooks too, and nothing after the fork.
    assert calls == ["before last", "before first"]


def test_a_collected_object_is_not_called() -> None:
    """The registry holds its objects weakly: a collected one's hooks are skipped."""
    calls: list[str] = []
    gone = _Target("gone", calls)
    at_fork(gone, before=_Target.before, after_in_child=_Target.after)
    kept = _Target("kept", calls)
    at_fork(kept, after_in_child=_Target.after)
    del gone
    gc.collect()
    report = in_child(lambda: {"calls": list(calls)})
    assert report["calls"] == ["after kept"]
