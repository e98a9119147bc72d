"""Small real HTTP servers on 127.0.0.1 for tests: they record what they received and answer canned replies."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    """One request as the server saw it (body already gunzipped when it was gzip-encoded)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int = 0
    """The port the request came from (with `keep_alive`, one per pooled connection)."""

    def json(self) -> object:
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """What the server answers."""

    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"
    content_encoding: str | None = None
    """Sent as `Content-Encoding` when set (`body` is then already encoded)."""


Responder = Callable[[Received], Reply]


@dataclass
class LoopbackServer:
    """A running server: its base URL and every request it received, in order."""

    url: str
    received: list[Received] = field(default_factory=list)

    def paths(self) -> list[str]:
        """The paths received, in order."""
        return [r.path for r in self.received]


@contextmanager
def serve(responder: Responder, *, keep_alive: bool = False) -> Iterator[LoopbackServer]:
    """Serve `responder` on a free loopback port until the block exits (then shut down).

    `keep_alive`: answer as HTTP/1.1, so a client's pooled connection stays open across its
    requests (and `Received.client_port` tells the connections apart).
    """
    lock = threading.Lock()
    state: LoopbackServer | None = None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            received = Received(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                body,
                self.client_address[1],
            )
            assert state is not None
            with lock:
                state.received.append(received)
            reply = responder(received)
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            if reply.content_encoding is not None:
                self.send_header("Content-Encoding", reply.content_encoding)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle  # noqa: N815 (http.server names)

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    state = LoopbackServer(url=f"http://{host!s}:{port}")
    thread = threading.Thread(target=server.serve_forever, name="loopback-server", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def json_reply(value: object, status: int = 200) -> Reply:
    """A JSON reply."""
    return Reply(status=status, body=json.dumps(value).encode())
