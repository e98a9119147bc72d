"""Events recorded in `multiprocessing` children made by fork reach the platform (review 3).

A `multiprocessing` child (a `Process`, a `Pool` worker) ends with `os._exit` once its target
returns, so the interpreter's exit hooks, where the SDK flushes, never run: its events were lost,
and not even counted. The export processor now also flushes at multiprocessing's own exit (its
finalizers, which a child runs before `os._exit`).
"""

from __future__ import annotations

import multiprocessing

from tracengent import AgentEvent, EventTypes, TracengentClient
from tracengent.testing import RunningPlatform

# The client the forked children inherit (a client cannot be pickled, and needs not be).
_CLIENTS: list[TracengentClient] = []


def _record(name: str) -> None:
    _CLIENTS[-1].record(AgentEvent(name=name, type=EventTypes.ACTION))


def test_a_fork_child_process_delivers_its_events(
    tracengent_platform: RunningPlatform, no_global_provider: None
) -> None:
    client = TracengentClient(tracengent_platform.options("demo-agent"))
    _CLIENTS.append(client)
    try:
        _record("in-parent")
        assert client.force_flush(timeout=5.0)
        context = multiprocessing.get_context("fork")
        children = [
            context.Process(target=_record, args=(f"in-child-{index}",)) for index in range(2)
        ]
        for child in children:
            child.start()
        for child in children:
            child.join(timeout=30)
        assert [child.exitcode for child in children] == [0, 0]
    finally:
        _CLIENTS.remove(client)
        assert client.close(timeout=5.0)
    names = sorted(str(event.body["name"]) for event in tracengent_platform.store.events())
    assert names == ["in-child-0", "in-child-1", "in-parent"]


def test_pool_workers_closed_and_joined_deliver_their_events(
    tracengent_platform: RunningPlatform, no_global_provider: None
) -> None:
    client = TracengentClient(tracengent_platform.options("demo-agent"))
    _CLIENTS.append(client)
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(2) as pool:
            pool.map(_record, [f"task-{index}" for index in range(6)])
            pool.close()
            pool.join()
    finally:
        _CLIENTS.remove(client)
        assert client.close(timeout=5.0)
    names = sorted(str(event.body["name"]) for event in tracengent_platform.store.events())
    assert names == [f"task-{index}" for index in range(6)]
