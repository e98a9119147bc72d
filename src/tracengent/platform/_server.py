"""`LocalPlatform`: the local platform served by uvicorn on a loopback socket, in a thread."""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from tracengent.platform._defaults import default_policy
from tracengent.platform._policy import Policy, load_policy
from tracengent.platform.store import PlatformStore

if TYPE_CHECKING:
    import uvicorn

__all__ = [
    "LocalPlatform",
    "bind_socket",
    "is_loopback_host_header",
    "is_loopback_name",
    "make_server",
]

_logger = logging.getLogger("tracengent.platform")
_START_DEADLINE_S = 10.0
_STOP_DEADLINE_S = 10.0


def is_loopback_name(host: str) -> bool:
    """Whether `host` (`localhost` or an IP literal, no port, no brackets) names loopback."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_host_header(value: str) -> bool:
    """Whether a request's `Host` header (`localhost:8080`, `[::1]:8080`, `127.0.0.1`) names
    loopback: a page whose domain was re-bound to 127.0.0.1 (DNS rebinding) sends its own name."""
    host = value.strip()
    if host.startswith("["):
        inner, bracket, port = host[1:].partition("]")
        # `host:` (an empty port) is the default port (RFC 3986 `port = *DIGIT`).
        if not bracket or (port and not (port[0] == ":" and (port[1:].isdigit() or port == ":"))):
            return False
        return is_loopback_name(inner)
    name, _, port = host.partition(":")
    if port and not port.isdigit():
        return False
    return is_loopback_name(name)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host:port` (`port=0` picks a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it, h11's separate header/body writes meet
    # Nagle and the client's delayed ACK, and every answer waits ~40 ms (issue 8 load test).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def make_server(
    policy: Policy, store: PlatformStore, *, log_level: str = "warning"
) -> uvicorn.Server:
    """A uvicorn server for the platform app (h11, no websockets, no lifespan) whose shutdown is
    bounded: connections still open a second after it begins are closed (`BoundedShutdownServer`).
    """
    import uvicorn

    from tracengent.platform._app import create_app
    from tracengent.platform._bounded_server import (
        SHUTDOWN_TASKS_TIMEOUT_S,
        BoundedShutdownServer,
    )

    config = uvicorn.Config(
        create_app(policy, store),
        http="h11",
        ws="none",
        lifespan="off",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=SHUTDOWN_TASKS_TIMEOUT_S,
    )
    return BoundedShutdownServer(config)


class LocalPlatform:
    """The embedded Tracengent platform, for tests, the demo and `tracengent dev`.

    Usage: `with LocalPlatform(tmp_path / "db.sqlite3") as platform: ... platform.url ...`.

    Args:
        db_path: the SQLite file (created and migrated when missing).
        policy: a `Policy`, a path to a TOML policy file, or None for the built-in policy.
        host: the loopback address to listen on.
        port: the port; 0 picks a free one.
        clock: seconds since the epoch (tests inject one to expire tokens and approvals).

    Raises:
        ValueError: `host` is not a loopback address (at construction): the built-in policy's
            credentials are public, so the platform is never offered to the network.
        PolicyError: the policy file is invalid (at construction).
    """

    def __init__(
        self,
        db_path: str | Path,
        policy: Policy | str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not is_loopback_name(host):
            raise ValueError(
                f"{host!r} is not a loopback address (127.0.0.1, ::1 or localhost): the local"
                " platform serves this machine only"
            )
        if policy is None:
            policy = default_policy()
        elif not isinstance(policy, Policy):
            policy = load_policy(policy)
        self.policy = policy
        self.store = PlatformStore(db_path, clock=clock)
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL agents use (`http://127.0.0.1:<port>`)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> LocalPlatform:
        """Bind, start serving in a daemon thread and return once it accepts connections.

        Blocks at most 10 s.

        Raises:
            OSError: the address cannot be bound.
            RuntimeError: the server did not start in time (or is already started).
        """
        if self._server is not None:
            raise RuntimeError("the platform is already started")
        sock = bind_socket(self.host, self.port)
        self.port = int(sock.getsockname()[1])
        try:
            server = make_server(self.policy, self.store)
            thread = threading.Thread(
                target=server.run,
                kwargs={"sockets": [sock]},
                name="tracengent-platform",
                daemon=True,
            )
            thread.start()
        except BaseException:
            # Nothing serves the socket yet: close it, or the port stays taken (no uvicorn
            # installed, an app that cannot be built, no thread to be had).
            sock.close()
            raise
        self._server, self._thread = server, thread
        deadline = time.monotonic() + _START_DEADLINE_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                sock.close()
                raise RuntimeError(f"the local platform did not start on {self.url}")
            # Waiting for uvicorn's own startup flag; a short poll under a deadline.
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the server thread; idempotent.

        Blocks about a second at most while a request is in progress: it may finish meanwhile,
        and the connection of one still in progress then (a client stalled mid-body) is closed;
        a handler still running 3 s in is cancelled. The wait has a 10 s deadline regardless (a
        warning is logged if it passes).
        """
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(_STOP_DEADLINE_S)
        if thread.is_alive():
            _logger.warning(
                "the local platform on %s did not stop within %s s", self.url, _STOP_DEADLINE_S
            )

    def __enter__(self) -> LocalPlatform:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
