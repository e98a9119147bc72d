"""Events recorded in `multiprocessing` children made by fork reach the platform (review 3).

A `multiprocessing` child (a `Process`, a `Pool` worker) ends with `os._exit` once its target
returns, so the interpreter's exit hooks, where the SDK flushes, never run: its events were lost,
and not even counted. The export processor now also flushes at multiprocessing's own exit (its
finalizers, which a child runs before `os._exit`), whether it was inherited through the fork or
made in the child (a `Pool` initializer's client).
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from pathlib import Path

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


def test_pool_workers_with_their_own_clients_deliver_their_events(
    tracengent_platform: RunningPlatform,
) -> None:
    """Clients made inside the workers (a `Pool` initializer's; no processor existed at the
    fork, so no fork hook): their events were buffered, then lost uncounted at the workers'
    `os._exit`. Run in a fresh interpreter, where no other processor flushes them."""
    options = tracengent_platform.options("demo-agent")
    assert options.client_id is not None
    assert options.client_secret is not None
    script = Path(__file__).with_name("pool_worker_clients.py")
    done = subprocess.run(
        [
            sys.executable,
            str(script),
            options.base_url,
            "demo-agent",
            options.client_id,
            options.client_secret,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    names = sorted(str(event.body["name"]) for event in tracengent_platform.store.events())
    assert names == [f"worker-task-{index}" for index in range(6)]
