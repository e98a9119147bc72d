"""A loopback CHAOS platform for the reliability suite: a real HTTP server on 127.0.0.1 that answers
like the Tracengent platform unless scripted otherwise, per endpoint and per request number.

Faults it can play: any status with `Retry-After` (seconds or an HTTP date), seeded random 5xx, slow
answers, stalls (released when the server stops), truncated bodies (a `Content-Length` larger than
what is written, then the connection closes), a dropped connection, malformed decisions. It records
every request (gzip bodies decompressed) with its arrival time and the status it was answered, so a
test can tell what the platform acknowledged.
"""

from __future__ import annotations

import base64
import email.utils
import gzip
import json
import math
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.loopback import Received

__all__ = [
    "Answer",
    "ChaosServer",
    "Drop",
    "Exchange",
    "Fault",
    "Stall",
    "Truncate",
    "chaos_server",
    "closed_port_url",
    "http_date_in",
    "make_jwt",
    "random_5xx",
    "sequence",
]

TOKEN_PATH = "/v1/oauth/token"
EVENTS_PATH = "/v1/ingest/events"
TRACES_PATH = "/v1/ingest/traces"


@dataclass(frozen=True)
class Answer:
    """Answer `status` with `body` (JSON-encoded unless bytes), after `delay_s`."""

    status: int = 200
    body: object = None
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0
    content_type: str = "application/json"

    def encoded(self) -> bytes:
        """The body's bytes."""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


@dataclass(frozen=True)
class Stall:
    """Never answer: hold the connection until the server stops (or `max_s`), then close it."""

    max_s: float = 60.0


@dataclass(frozen=True)
class Truncate:
    """Answer `status` declaring `declared` bytes of body, write only `body`, then close."""

    status: int = 200
    body: bytes = b'{"allowed": tr'
    declared: int = 4096


@dataclass
class Drip:
    """Answer `status` with `body` (JSON-encoded unless bytes) one byte every `interval_s`: each
    read is quick, the whole answer slow. `written` counts the body bytes sent, and `finished`
    is set when the last one went (it stays clear when the client hung up first).

    With `head`, the status line and headers are dripped too (`written` then counts from the
    status line's first byte: see `dripped`), as a platform or proxy might."""

    body: object
    interval_s: float
    status: int = 200
    head: bool = False
    written: int = 0
    finished: threading.Event = field(default_factory=threading.Event)

    def encoded(self) -> bytes:
        """The body's bytes."""
        return self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()

    def head_bytes(self) -> bytes:
        """The status line and headers (through the blank line) a `head` drip writes."""
        return (
            f"HTTP/1.1 {self.status} Chaos\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(self.encoded())}\r\nCache-Control: no-store\r\n"
            "Connection: close\r\n\r\n"
        ).encode("ascii")

    def dripped(self) -> bytes:
        """Every byte dripped: the body, after the head with `head`."""
        return self.head_bytes() + self.encoded() if self.head else self.encoded()


@dataclass(frozen=True)
class Drop:
    """Close the connection without answering anything."""


Fault = Answer | Stall | Truncate | Drip | Drop
Script = Callable[[int, Received], Fault | None]
"""`(n, request) -> fault`: n counts the requests to this path from 0; None means the default."""


def sequence(*faults: Fault, then: Fault | None = None) -> Script:
    """Request n gets `faults[n]`; later ones get `then` (None: the platform's default answer)."""

    def script(n: int, _: Received) -> Fault | None:
        return faults[n] if n < len(faults) else then

    return script


def random_5xx(rate: float, *, seed: int, status: int = 503) -> Script:
    """Answer `status` to a seeded random `rate` of the requests, the default to the rest."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def script(_: int, __: Received) -> Fault | None:
        with lock:
            failing = rng.random() < rate
        return Answer(status, {"error": "chaos"}) if failing else None

    return script


def make_jwt(claims: dict[str, object]) -> str:
    """An unsigned JWT carrying `claims` (the SDK reads claims without verifying them)."""

    def segment(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{segment({'alg': 'none'})}.{segment(claims)}.sig"


def http_date_in(seconds: float) -> str:
    """An HTTP date at least `seconds` from now (for `Retry-After`; rounded up to the second)."""
    return email.utils.formatdate(math.ceil(time.time() + seconds), usegmt=True)


def closed_port_url() -> str:
    """The URL of a loopback port nobody listens on (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class Exchange:
    """One request and how it was answered (`status` None: stalled, dropped or truncated)."""

    received: Received
    at: float
    status: int | None

    @property
    def path(self) -> str:
        """The request's path."""
        return self.received.path


@dataclass
class ChaosServer:
    """A running chaos platform: its URL, its scripts and every exchange, in arrival order."""

    url: str
    permissions: list[str] = field(default_factory=lambda: ["*"])
    exchanges: list[Exchange] = field(default_factory=list)
    scripts: dict[str, Script] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)
    _counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, path: str, script: Script) -> ChaosServer:
        """Script the answers of `path` (a request path, the query excluded)."""
        self.scripts[path] = script
        return self

    def to(self, path: str) -> list[Exchange]:
        """The exchanges with `path`, in arrival order."""
        with self._lock:
            return [e for e in self.exchanges if e.path.split("?")[0] == path]

    def acknowledged_events(self) -> list[dict[str, object]]:
        """Every event of an ingest request answered 2xx, in arrival order."""
        events: list[dict[str, object]] = []
        for exchange in self.to(EVENTS_PATH):
            if exchange.status is not None and 200 <= exchange.status < 300:
                body = exchange.received.json()
                assert isinstance(body, list)
                events.extend(body)
        return events

    def event_batches(self) -> list[list[dict[str, object]]]:
        """The body of every ingest request received (answered or not)."""
        batches: list[list[dict[str, object]]] = []
        for exchange in self.to(EVENTS_PATH):
            body = exchange.received.json()
            assert isinstance(body, list)
            batches.append(body)
        return batches

    def _next(self, path: str, received: Received) -> Fault:
        with self._lock:
            n = self._counts.get(path, 0)
            self._counts[path] = n + 1
        script = self.scripts.get(path)
        fault = script(n, received) if script is not None else None
        return fault if fault is not None else self._default(path, received)

    def _default(self, path: str, received: Received) -> Fault:
        if path == TOKEN_PATH:
            token = make_jwt({"sub": "chaos-agent", "permissions": self.permissions})
            return Answer(body={"access_token": token, "token_type": "Bearer", "expires_in": 900})
        if path == EVENTS_PATH:
            body = received.json()
            count = len(body) if isinstance(body, list) else 0
            return Answer(body={"accepted": count, "stored": count, "duplicates": 0})
        if path == TRACES_PATH:
            return Answer(body={"accepted": 1, "stored": 1, "duplicates": 0})
        if path.startswith("/v1/approvals/"):
            return Answer(body={"status": "approved"})
        if path.startswith("/v1/delegations/"):
            token = make_jwt({"sub": "child", "grant_id": "dlg_child", "permissions": ["*"]})
            return Answer(body={"token": {"accessToken": token, "tokenType": "Bearer"}})
        if path in ("/v1/authorize", "/v1/tool-authorize"):
            return Answer(
                body={"allowed": True, "status": "allowed", "reason": "ok", "decisionId": "dec_1"}
            )
        # Anything else is the "third-party tool server".
        return Answer(body={"ok": True})


@contextmanager
def chaos_server() -> Iterator[ChaosServer]:
    """Run a chaos platform on a free loopback port; stalls are released and it stops on exit."""
    state: ChaosServer | None = None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            assert state is not None
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            received = Received(
                self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
            )
            at = time.monotonic()
            fault = state._next(self.path.split("?")[0], received)
            status: int | None = None
            if isinstance(fault, Answer):
                if fault.delay_s and state.release.wait(fault.delay_s):
                    fault = Drop()
                else:
                    status = fault.status
            with state._lock:
                state.exchanges.append(Exchange(received, at, status))
            if isinstance(fault, Answer):
                payload = fault.encoded()
                self.send_response(fault.status)
                self.send_header("Content-Type", fault.content_type)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in fault.headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
                return
            if isinstance(fault, Drip):
                payload = fault.dripped()
                if not fault.head:
                    self.send_response(fault.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.flush()
                try:
                    for index in range(len(payload)):
                        if state.release.wait(fault.interval_s):
                            break
                        self.wfile.write(payload[index : index + 1])
                        self.wfile.flush()
                        fault.written += 1
                    else:
                        fault.finished.set()
                except OSError:
                    pass  # the client hung up: what the test looks for
            elif isinstance(fault, Stall):
                state.release.wait(fault.max_s)
            elif isinstance(fault, Truncate):
                self.send_response(fault.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(fault.declared))
                self.end_headers()
                self.wfile.write(fault.body)
                self.wfile.flush()
            self.close_connection = True
            with suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle  # noqa: N815 (http.server names)

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    state = ChaosServer(url=f"http://{host!s}:{port}")
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.02},
        name="chaos-server",
        daemon=True,
    )
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
