"""One `httpx.AsyncClient` per event loop, kept for as long as its loop lives (review 3).

Only the last loop's client was kept: with two long-lived loops (one per thread), every call
alternated between them and each made a new client, a new connection pool per governance call,
never closed. Each live loop now keeps its own client; a loop that is gone takes its client with
it (so `asyncio.run` per request does not pile clients up).
"""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref

import httpx

from opentelemetry.exporter.tracengent._loop_local import LoopLocalAsyncClient


def test_two_long_lived_loops_each_keep_one_client() -> None:
    made: list[httpx.AsyncClient] = []

    def factory() -> httpx.AsyncClient:
        made.append(httpx.AsyncClient())
        return made[-1]

    clients = LoopLocalAsyncClient(factory)
    loops = [asyncio.new_event_loop() for _ in range(2)]
    seen: list[set[int]] = [set(), set()]
    turns = [threading.Event(), threading.Event()]

    async def ask(index: int) -> None:
        seen[index].add(id(clients.get()))

    def run(index: int) -> None:
        for _ in range(20):
            turns[index].wait()
            turns[index].clear()
            loops[index].run_until_complete(ask(index))
            turns[1 - index].set()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    turns[0].set()  # the two loops take turns: each call comes after the other loop's
    for thread in threads:
        thread.join(timeout=30)
    try:
        assert len(made) == 2
        assert [len(ids) for ids in seen] == [1, 1]
    finally:
        for loop in loops:
            loop.run_until_complete(clients.aclose())
            loop.close()


def test_a_loop_per_call_does_not_pile_clients_up() -> None:
    made: list[weakref.ref[httpx.AsyncClient]] = []

    def factory() -> httpx.AsyncClient:
        client = httpx.AsyncClient()
        made.append(weakref.ref(client))
        return client

    clients = LoopLocalAsyncClient(factory)

    async def ask() -> None:
        clients.get()

    for _ in range(30):
        asyncio.run(ask())
    gc.collect()
    assert len(made) == 30  # each loop its own client: a pool never crosses loops
    assert sum(ref() is not None for ref in made) <= 1
