"""A bound on the whole of a platform answer's body, for the synchronous clients.

httpx bounds each read by the request's read timeout, not the whole answer: a platform (or a
proxy) dripping its answer a byte at a time passes every read, so a governance call would outlive
its deadline (and take an allow that came too late) and the export worker would wait out the drip.
`bound_body` makes a streamed response's body give up, as a read timeout, once a monotonic
deadline has passed: checked as each chunk arrives, so at most one read timeout after it. The
status line and headers are bounded by the read timeout alone (httpx offers no hook before them);
asynchronous governance calls are bounded as a whole by `asyncio`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx

__all__ = ["bound_body"]


class _BoundedBody(httpx.SyncByteStream):
    """`inner`'s chunks while `time.monotonic()` has not passed `end`; a read timeout after."""

    def __init__(self, inner: httpx.SyncByteStream, end: float) -> None:
        self._inner = inner
        self._end = end

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            if time.monotonic() > self._end:
                raise httpx.ReadTimeout(
                    "the platform's answer took longer than the request's timeout"
                )
            yield chunk

    def close(self) -> None:
        self._inner.close()


def bound_body(response: httpx.Response, end: float) -> None:
    """Make the body of `response` (sent with `stream=True`, not read yet) end by `end`
    (`time.monotonic()`): reading it after that raises `httpx.ReadTimeout`."""
    if isinstance(response.stream, httpx.SyncByteStream):
        response.stream = _BoundedBody(response.stream, end)
