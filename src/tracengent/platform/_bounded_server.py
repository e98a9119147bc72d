"""A uvicorn server whose graceful shutdown is bounded: a client stalled mid-request cannot hold
the platform open (imported only when a server is made: uvicorn is the platform extra's)."""

from __future__ import annotations

import asyncio
import socket
from typing import Final

import uvicorn

__all__ = ["SHUTDOWN_GRACE_S", "SHUTDOWN_TASKS_TIMEOUT_S", "BoundedShutdownServer"]

SHUTDOWN_GRACE_S: Final = 1.0
"""How long after a shutdown begins a request still in progress may finish (a body still
arriving, an answer being written); its connection is closed then."""

SHUTDOWN_TASKS_TIMEOUT_S: Final = 3
"""uvicorn's `timeout_graceful_shutdown`: a handler still running this long after the shutdown
began (its connection already closed) is cancelled. A backstop: handlers are bounded by the
database's busy timeout and end well within it."""


class BoundedShutdownServer(uvicorn.Server):
    """`uvicorn.Server` that, `SHUTDOWN_GRACE_S` after its shutdown begins, closes every
    connection still open.

    uvicorn's own shutdown closes idle connections at once, lets a request in progress finish,
    and waits for it without end (`timeout_graceful_shutdown=None`) or, with a timeout, cancels
    its task, which it logs as an application error. A client that sent headers and part of its
    declared body, then holds the connection open, kept the platform serving (and
    `LocalPlatform.stop` waiting out its deadline with the thread left running). Closing the
    connection is what the client going away would do: the request ends as a disconnect
    (`ClientDisconnect`, answered quietly by the app), nothing stored.
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's shutdown, with the connections left after the grace period closed."""
        timer = asyncio.get_running_loop().call_later(SHUTDOWN_GRACE_S, self._close_connections)
        try:
            await super().shutdown(sockets)
        finally:
            timer.cancel()

    def _close_connections(self) -> None:
        for connection in list(self.server_state.connections):
            # `connection_lost` follows: the request in progress is told the client went away.
            connection.transport.close()
