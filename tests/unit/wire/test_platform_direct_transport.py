"""The blocking platform client hands its calls straight to an `httpx.HTTPTransport` (no client
layer): against a real loopback socket server."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import httpx
import pytest

from opentelemetry.exporter.tracengent.errors import PlatformError, PlatformUnavailableError
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import PlatformClient

ALLOW = {"allowed": True, "status": "allowed", "outcome": "policy_allow", "reason": "ok"}


def http_answer(body: bytes = b"{}", *, extra: bytes = b"") -> bytes:
    """A 200 answer with a JSON body, framed by Content-Length."""
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + extra
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )


@dataclass
class RawServer:
    """A socket server on 127.0.0.1 answering each request with `answer(request_bytes)`.

    `answer` returns the bytes to write, or None to close the connection without answering.
    """

    answer: Callable[[bytes], bytes | None]
    port: int = 0
    tls: ssl.SSLContext | None = None
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    sockets: list[socket.socket] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def serve(self, listener: socket.socket) -> None:
        """Accept connections until the listener closes; each is served on its own thread."""
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            self.connections += 1
            self.sockets.append(conn)
            threading.Thread(target=self.serve_connection, args=(conn,), daemon=True).start()

    def serve_connection(self, conn: socket.socket) -> None:
        """Serve one accepted connection (over TLS when configured) until it closes."""
        with conn, suppress(OSError):
            if self.tls is None:
                self.answer_requests(conn)
                return
            with self.tls.wrap_socket(conn, server_side=True) as tls_conn:
                self.answer_requests(tls_conn)

    def answer_requests(self, conn: socket.socket) -> None:
        """Read requests (head plus Content-Length body) and answer each as scripted."""
        buffer = b""
        while True:
            while b"\r\n\r\n" not in buffer:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(buffer) < length:
                buffer += conn.recv(65536)
            request, buffer = head + b"\r\n\r\n" + buffer[:length], buffer[length:]
            self.requests.append(request)
            reply = self.answer(request)
            if reply is None:
                return
            conn.sendall(reply)

    def drop_connections(self) -> None:
        """Close every accepted socket from the server side (idle keep-alive ones included)."""
        for conn in self.sockets:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()


@contextmanager
def raw_server(
    answer: Callable[[bytes], bytes | None], *, tls: ssl.SSLContext | None = None
) -> Iterator[RawServer]:
    """A `RawServer` (over TLS with `tls`) running until the block exits."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    server = RawServer(answer, port=listener.getsockname()[1], tls=tls)
    thread = threading.Thread(target=server.serve, args=(listener,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        # Shutting the listener down wakes the thread blocked in accept() (closing alone does not).
        with suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        server.drop_connections()
        thread.join(5)


@pytest.fixture
def no_environment_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy configured in the environment (one would keep the platform calls on httpx)."""
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def always(reply: bytes) -> Callable[[bytes], bytes]:
    """An `answer` giving `reply` to every request."""
    return lambda request: reply


@pytest.mark.usefixtures("no_environment_proxy")
def test_the_platform_client_reuses_one_connection_by_default() -> None:
    """A default `PlatformClient` makes its calls on one kept-alive connection, headers intact."""
    with raw_server(always(http_answer(json.dumps(ALLOW).encode()))) as server:
        options = TracengentOptions(agent_id="a", ingest_key="agk_x", base_url=server.url)
        client = PlatformClient(options)
        for _ in range(3):
            assert client.tool_authorize({"transport": "http"}).allowed
        client.close()
    assert server.connections == 1
    assert all(b"X-Ingest-Key: agk_x\r\n" in request for request in server.requests)


@pytest.mark.usefixtures("no_environment_proxy")
def test_a_closed_platform_client_sends_nothing() -> None:
    """After close, a governance call fails (an SDK state, not an unavailable platform: it
    never fails open) and nothing reaches the server."""
    with raw_server(always(http_answer(json.dumps(ALLOW).encode()))) as server:
        options = TracengentOptions(agent_id="a", ingest_key="agk_x", base_url=server.url)
        client = PlatformClient(options)
        client.close()
        with pytest.raises(PlatformError, match="closed") as caught:
            client.tool_authorize({"transport": "http"})
        assert not isinstance(caught.value, PlatformUnavailableError)
    assert server.requests == []


def test_an_environment_proxy_keeps_the_platform_calls_on_httpx(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With HTTP_PROXY set, calls go through httpx (which routes them to the proxy)."""

    def proxy(request: bytes) -> bytes:
        return http_answer(json.dumps(ALLOW).encode())

    with raw_server(proxy) as server:
        monkeypatch.delenv("http_proxy", raising=False)
        monkeypatch.setenv("HTTP_PROXY", server.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        options = TracengentOptions(
            agent_id="a", ingest_key="agk_x", base_url="http://platform.invalid:8080"
        )
        client = PlatformClient(options)
        assert client.tool_authorize({"transport": "http"}).allowed
        client.close()
    # A proxied request names the absolute URL in its request line.
    assert server.requests[0].startswith(b"POST http://platform.invalid:8080/v1/tool-authorize ")


@pytest.mark.parametrize(
    ("method", "content", "url"),
    [
        ("POST", b'{"permission":"refund"}', "http://127.0.0.1:8080/v1/authorize"),
        ("POST", None, "http://platform.example:80/v1/oauth/token"),
        ("PUT", b"", "https://platform.example:8443/v1/x"),
        ("GET", None, "https://platform.example/v1/approvals/apr_1"),
        ("GET", b"", "http://127.0.0.1:8080/v1/approvals/apr_2?wait=1"),
    ],
)
def test_the_request_sent_is_the_one_httpx_would_build(
    method: str, content: bytes | None, url: str
) -> None:
    """The request built from the body's stream has httpx's own headers, order, body and
    timeout: `httpx.Request(method, url, headers=..., content=...)` is the reference."""
    from opentelemetry.exporter.tracengent._http_policy import SendRequest
    from opentelemetry.exporter.tracengent._platform_core import PlatformCore

    core = PlatformCore(
        TracengentOptions(agent_id="a", ingest_key="agk_x"),
        bearer_token=None,
        uses_token=False,
        clock=lambda: 0.0,
        wall_clock=lambda: 0.0,
        jitter=lambda: 0.0,
    )
    headers = {
        "User-Agent": "tracengent-test",
        "Accept": "application/json",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        "Authorization": "Bearer t",
    }
    step = SendRequest(method, url, headers, content, 2.5)
    ours = core.request_for(step)
    reference = httpx.Request(
        method,
        url,
        headers=headers,
        content=content,
        extensions={"timeout": {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}},
    )
    assert (ours.method, ours.url, ours.headers.raw, ours.content, ours.extensions) == (
        reference.method,
        reference.url,
        reference.headers.raw,
        reference.content,
        reference.extensions,
    )
    assert isinstance(ours.stream, httpx.ByteStream)
