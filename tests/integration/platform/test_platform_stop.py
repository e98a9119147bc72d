"""`LocalPlatform.stop()` is bounded: a client stalled mid-body (headers and part of a declared
body, then nothing, the connection held open) is disconnected a moment after the stop begins,
so the server thread ends and the port closes; a quick request in flight still completes."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracengent.platform import LocalPlatform

_STOP_BOUND_S = 5.0
"""Generous: the stop takes about a second; before the fix it took the full 10 s deadline and
left the server thread running."""

_FORM = b"grant_type=client_credentials&client_id=key_demo&client_secret=ags_demo"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def server_errors() -> Iterator[list[logging.LogRecord]]:
    """The error records uvicorn logs (an ASGI application error, a cancelled task) meanwhile."""
    handler = _Records()
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def _partial_post(port: int, body: bytes, *, declared: int) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = (
        "POST /v1/oauth/token HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    )
    client.sendall(head.encode() + body)
    return client


def _read_all(client: socket.socket) -> bytes:
    received = b""
    while chunk := client.recv(65536):
        received += chunk
    return received


def test_stop_with_a_client_stalled_mid_body_is_bounded(
    tmp_path: Path, server_errors: list[logging.LogRecord]
) -> None:
    """A partial POST that stalls: `stop()` returns within the bound, the server thread has
    ended, the port refuses connections and the stalled client's connection is closed, and
    nothing is logged as an application error."""
    platform = LocalPlatform(tmp_path / "db.sqlite3").start()
    thread = platform._thread
    assert thread is not None
    port = platform.port
    client = _partial_post(port, _FORM[:10], declared=len(_FORM))
    try:
        # Let the server read the head and start waiting for the rest of the body.
        time.sleep(0.3)
        began = time.monotonic()
        platform.stop()
        elapsed = time.monotonic() - began
        assert elapsed < _STOP_BOUND_S, f"stop() took {elapsed:.1f} s"
        assert not thread.is_alive()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        client.settimeout(2)
        with contextlib.suppress(ConnectionResetError):  # closed either way
            assert _read_all(client) == b""
    finally:
        client.close()
    assert [r for r in server_errors if r.levelno >= logging.ERROR] == []


def test_a_quick_request_in_flight_when_stop_begins_completes(
    tmp_path: Path, server_errors: list[logging.LogRecord]
) -> None:
    """A request whose body is still arriving when `stop()` begins, and arrives soon after,
    is answered in full (a token); then the connection closes and the stop completes."""
    platform = LocalPlatform(tmp_path / "db.sqlite3").start()
    thread = platform._thread
    assert thread is not None
    client = _partial_post(platform.port, _FORM[:10], declared=len(_FORM))
    try:
        time.sleep(0.2)
        stopper = threading.Thread(target=platform.stop)
        stopper.start()
        time.sleep(0.3)
        client.sendall(_FORM[10:])
        answer = _read_all(client)
    finally:
        client.close()
    stopper.join(_STOP_BOUND_S)
    assert not stopper.is_alive()
    assert not thread.is_alive()
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert b'"access_token"' in answer
    assert [r for r in server_errors if r.levelno >= logging.ERROR] == []
