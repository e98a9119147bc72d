"""An `httpx.AsyncClient` per event loop.

An async client's pooled connections belong to the event loop that opened them: reused from
another loop (an agent calling `asyncio.run` once per request, say) they fail with "Event loop is
closed", and governance would then deny every call. Each running loop therefore gets a client of
its own, made the first time that loop asks and kept while the loop lives (several long-lived
loops, one per thread, each keep theirs). The client of a loop that has ended cannot be closed
any more (its coroutines need that loop); it is dropped with its loop (or once the loop is closed),
and its sockets are reclaimed when it is garbage collected.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable

import httpx

__all__ = ["LoopLocalAsyncClient"]


class LoopLocalAsyncClient:
    """Hands out one `httpx.AsyncClient` per running event loop.

    Args:
        factory: makes a new client (called once per loop).
        given: a client the caller owns: used as is, on every loop, and never closed here.
    """

    def __init__(
        self,
        factory: Callable[[], httpx.AsyncClient],
        given: httpx.AsyncClient | None = None,
    ) -> None:
        self._factory = factory
        self._given = given
        self._lock = threading.Lock()
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )
        self._closed = False

    def get(self) -> httpx.AsyncClient:
        """The client of the running loop.

        Raises:
            RuntimeError: outside a running loop, or once closed (`mark_closed`/`aclose`): a
                closed platform client makes no new connections, as the sync one makes none.
        """
        if self._given is not None:
            return self._given
        if self._closed:
            raise RuntimeError("the platform client is closed")
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.get(loop)
            if client is None:
                # A closed loop another object still holds keeps a client nobody can use.
                for closed in [other for other in self._clients if other.is_closed()]:
                    del self._clients[closed]
                client = self._factory()
                self._clients[loop] = client
            return client

    def after_fork(self) -> None:
        """In a child of `os.fork()`: a fresh lock, and the client made so far forgotten.

        Forgotten, not closed: its pool's locks and connections are the parent's. The next
        `get` makes the child a client of its own. A given client stays the caller's.
        """
        self._lock = threading.Lock()
        self._clients = weakref.WeakKeyDictionary()

    def mark_closed(self) -> None:
        """Hand out no client any more (`get` raises); no I/O. The clients made so far are
        closed by `aclose` on their loop, or reclaimed with their loops."""
        self._closed = True

    async def aclose(self) -> None:
        """Close the running loop's client, if this object made it (a given one is the caller's),
        and hand out no client any more (`mark_closed`)."""
        if self._given is not None:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()
