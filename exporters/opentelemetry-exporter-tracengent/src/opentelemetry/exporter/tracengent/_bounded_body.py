"""A bound on the whole of a synchronous platform exchange, not on each read.

httpx bounds each read by the request's read timeout, not the whole answer: a platform (or a
proxy) dripping its answer a byte at a time passes every read, so a governance call would outlive
its deadline (and take an allow that came too late) and the export worker would wait out the drip.
Asynchronous calls are bounded as a whole by `asyncio`; the blocking ones by two pieces here:

- `BoundedTransport`, the default transport of the blocking platform clients: httpcore's
  connection pool (kept-alive connections, TLS verified as `httpx.HTTPTransport` does) over a
  network backend whose every connect, TLS handshake, write and read waits at most until the
  end `exchange_until` set for the calling thread's exchange, and raises httpcore's timeout of
  that step once it has passed. The status line and headers are bounded so too, not only the
  body: an exchange ends by its end, give or take one socket wait. Outside an exchange (no end
  set) each step keeps the request's own timeout.
- `bound_body`, for an `httpx.Client` or transport the caller gave (or the pools httpx mounts for
  an environment proxy), which cannot be rewired: the body gives up, as a read timeout, once the
  end has passed (checked as each chunk arrives, so at most one read timeout after it). Their
  status line and headers stay bounded by the read timeout alone (httpx has no hook before them).

Either way the failure is an `httpx.TimeoutException`, which the platform calls already take for
a timeout (governance denies, fail closed; an export counts it and retries).

The body is bounded in size too: `read_answer` / `aread_answer` keep at most `MAX_ANSWER_BYTES`
of it once decoded (a gzip answer of 64 KiB can stand for 64 MiB), and more is an answer that
cannot be decoded (`AnswerTooLarge`): the call decides on its status alone (governance denies a
2xx it cannot read; an ingest 2xx still acknowledges its batch).
"""

from __future__ import annotations

import contextvars
import ssl
import time
import urllib.request
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any, Final

import httpcore
import httpx

__all__ = [
    "MAX_ANSWER_BYTES",
    "AnswerTooLarge",
    "BoundedTransport",
    "aread_answer",
    "bound_body",
    "end_exchange",
    "environment_proxy_configured",
    "exchange_until",
    "read_answer",
]

_TOO_LONG: Final = "the platform's answer took longer than the request's timeout"

# The schemes of the environment proxies httpx mounts on a client built without a transport.
_PROXY_SCHEMES: Final = ("http", "https", "all")


def environment_proxy_configured() -> bool:
    """Whether httpx would route a client made without a transport through a proxy named in
    the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`); `NO_PROXY` alone mounts none."""
    # httpx reads the same `getproxies()`.
    proxies = urllib.request.getproxies()
    return any(proxies.get(scheme) for scheme in _PROXY_SCHEMES)


# The monotonic time the current thread's platform exchange must end by (inf: none set).
_end: contextvars.ContextVar[float] = contextvars.ContextVar(
    "tracengent_exchange_end", default=float("inf")
)


def exchange_until(end: float) -> contextvars.Token[float]:
    """Bound the exchanges this thread starts, until `end_exchange`, by `end`
    (`time.monotonic()`): a `BoundedTransport`'s connects, writes and reads wait no later."""
    return _end.set(end)


def end_exchange(token: contextvars.Token[float]) -> None:
    """Undo the `exchange_until` that returned `token`."""
    _end.reset(token)


def _left(timeout: float | None, timed_out: type[httpcore.TimeoutException]) -> float | None:
    """`timeout`, cut to what is left of the exchange; `timed_out` when nothing is."""
    end = _end.get()
    if end == float("inf"):
        return timeout
    left = end - time.monotonic()
    if left <= 0.0:
        raise timed_out(_TOO_LONG)
    return left if timeout is None or left < timeout else timeout


class _BoundedStream(httpcore.NetworkStream):
    """A network stream whose every wait ends by the exchange's end."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _BoundedStream(
            self._inner.start_tls(
                ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout)
            )
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _BoundedBackend(httpcore.NetworkBackend):
    """httpcore's blocking sockets, whose streams are `_BoundedStream`s."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _left(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _BoundedStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(
            path, _left(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _BoundedStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


# httpcore's errors as httpx's, the most specific first (what `httpx.HTTPTransport` raises).
_ERRORS: Final[tuple[tuple[type[Exception], type[httpx.TransportError]], ...]] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


def _as_httpx(exc: Exception) -> Exception:
    for raised, error in _ERRORS:
        if isinstance(exc, raised):
            return error(str(exc))
    return exc


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, inner: Iterable[bytes]) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._inner
        except Exception as exc:
            mapped = _as_httpx(exc)
            if mapped is exc:
                raise
            raise mapped from exc

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


class BoundedTransport(httpx.BaseTransport):
    """`httpx.HTTPTransport()` as its defaults make it (HTTP/1.1, TLS verified with httpx's
    context, `SSL_CERT_FILE`/`SSL_CERT_DIR` honoured, httpx's default limits, no proxy), whose
    exchanges end by the end `exchange_until` set (see the module docstring)."""

    def __init__(self) -> None:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_BoundedBackend(httpcore.SyncBackend()),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        stream = request.stream
        if not isinstance(stream, httpx.SyncByteStream):
            raise TypeError("a blocking transport needs a request with a synchronous body")
        url = request.url
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=stream,
            extensions=request.extensions,
        )
        try:
            response = self._pool.handle_request(core_request)
        except Exception as exc:
            mapped = _as_httpx(exc)
            if mapped is exc:
                raise
            raise mapped from exc
        assert isinstance(response.stream, Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


class _BoundedBody(httpx.SyncByteStream):
    """`inner`'s chunks while `time.monotonic()` has not passed `end`; a read timeout after."""

    def __init__(self, inner: httpx.SyncByteStream, end: float) -> None:
        self._inner = inner
        self._end = end

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            if time.monotonic() > self._end:
                raise httpx.ReadTimeout(_TOO_LONG)
            yield chunk

    def close(self) -> None:
        self._inner.close()


def bound_body(response: httpx.Response, end: float) -> None:
    """Make the body of `response` (sent with `stream=True`, not read yet) end by `end`
    (`time.monotonic()`): reading it after that raises `httpx.ReadTimeout`."""
    if isinstance(response.stream, httpx.SyncByteStream):
        response.stream = _BoundedBody(response.stream, end)


MAX_ANSWER_BYTES: Final = 1 << 20
"""The most a platform answer's body may hold once decoded (its decisions, tokens and ingest
results are a few hundred bytes): more is read as an answer that cannot be decoded."""

# The content codings httpx decodes; `identity` (or none) is the body as sent.
_AS_SENT: Final = frozenset({"", "identity"})


class AnswerTooLarge(httpx.DecodingError):
    """A platform answer whose body, decoded, holds more than `MAX_ANSWER_BYTES` (a compressed
    answer can inflate a thousandfold): it is not read further, and the call decides on its
    status alone, as for any answer that cannot be decoded."""


def _too_large() -> AnswerTooLarge:
    return AnswerTooLarge(f"the platform's answer holds more than {MAX_ANSWER_BYTES} bytes")


class _CappedBody(httpx.SyncByteStream):
    """`inner`'s chunks while they hold at most `MAX_ANSWER_BYTES` in all."""

    def __init__(self, inner: httpx.SyncByteStream) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        size = 0
        for chunk in self._inner:
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise _too_large()
            yield chunk

    def close(self) -> None:
        self._inner.close()


class _AsyncCappedBody(httpx.AsyncByteStream):
    """`_CappedBody` for an asynchronous answer."""

    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size = 0
        async for chunk in self._inner:
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise _too_large()
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


def _decoded(response: httpx.Response, content: bytes) -> httpx.Response:
    """`response` holding `content`, its body decoded already (no content coding left)."""
    headers = [
        (name, value)
        for name, value in response.headers.raw
        if name.lower() not in (b"content-encoding", b"content-length")
    ]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=content,
        request=response.request,
        extensions=response.extensions,
    )


def _as_sent(response: httpx.Response) -> bool:
    return response.headers.get("content-encoding", "").strip().lower() in _AS_SENT


def read_answer(response: httpx.Response) -> httpx.Response:
    """Read the body of `response` (sent with `stream=True`, not read yet), decoded, and return
    the response holding it: `response` itself, or for a compressed body a response like it
    holding the decoded body. Never more than `MAX_ANSWER_BYTES` decoded is kept.

    Raises:
        httpx.DecodingError: the body cannot be decoded, or holds too much (`AnswerTooLarge`).
    """
    if _as_sent(response):
        if isinstance(response.stream, httpx.SyncByteStream):
            response.stream = _CappedBody(response.stream)
        response.read()
        return response
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return _decoded(response, b"".join(chunks))


async def aread_answer(response: httpx.Response) -> httpx.Response:
    """`read_answer` for an asynchronous response.

    Raises:
        httpx.DecodingError: the body cannot be decoded, or holds too much (`AnswerTooLarge`).
    """
    if _as_sent(response):
        if isinstance(response.stream, httpx.AsyncByteStream):
            response.stream = _AsyncCappedBody(response.stream)
        await response.aread()
        return response
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return _decoded(response, b"".join(chunks))
