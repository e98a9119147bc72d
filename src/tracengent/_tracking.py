"""Tracked HTTP clients: every request is a `tool_call` event on an OTel CLIENT span.

`TrackingTransport` and `AsyncTrackingTransport` wrap an inner transport. Per request they start
a CLIENT span with the HTTP semantic-convention attributes, mark it tracked (so it is an event even
outside a decision trace), make it current while the inner transport runs, and inject its trace
context into the outgoing headers by the global propagator (W3C `traceparent` by default). A
status >= 400, or an exception (while sending, or while the response body is read), marks the
event failed; the application's exception is re-raised untouched. The span ends when the
response body is closed (httpx closes it once read; a streamed response when its block exits,
or once it is collected when it was dropped unclosed).
The span logic is shared and I/O-free; only the thin `handle_*` shells and body wrappers differ.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import httpx
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from opentelemetry.exporter.tracengent import attributes as A
from tracengent._direct_spans import RecordedAttributes
from tracengent._gateway import environment_mounts, split_client_kwargs
from tracengent._propagation import inject_span_context
from tracengent._recording import ActiveSpan, Attributes, Recorder, mark_failed
from tracengent._scrubbing import Scrubber
from tracengent._state import CURRENT_TRACE

if TYPE_CHECKING:
    from tracengent._client import TracengentClient

__all__ = [
    "AsyncTrackingTransport",
    "TrackingTransport",
    "tracked_async_client",
    "tracked_client",
]

_FAILURE_STATUS = 400


def request_event(request: httpx.Request, scrubber: Scrubber) -> tuple[str, Attributes]:
    """The event's name (0.1.0's `"GET host/path"`) and its span's start attributes: HTTP
    semconv, tracked, a `tool_call` event of that name. The URL is recorded without
    credentials, by the scrubber's one rule for recorded URLs (`Scrubber.url_value`)."""
    url = request.url
    host = url.host
    method = request.method
    name = f"{method} {host}{url.path}"
    # Recorder-built text (httpx's decoded URL parts): its span skips the agent-value check.
    return name, RecordedAttributes(
        {
            A.EVENT_TYPE: A.EventTypes.TOOL_CALL,
            # 0.1.0 names the event by host without port; the exporter's own HTTP naming keeps it.
            A.EVENT_NAME: name,
            A.TRACKED: True,
            A.HTTP_REQUEST_METHOD: method,
            A.URL_FULL: scrubber.url_value(str(url)),
            A.SERVER_ADDRESS: host,
        }
    )


def start_request(recorder: Recorder, request: httpx.Request) -> ActiveSpan | None:
    """Start the request's span, make it current and inject `traceparent` into its headers."""
    name, attrs = request_event(request, recorder.scrubber)
    trace = CURRENT_TRACE.get()
    if recorder.agent_id and (trace is None or recorder.foreign(trace)):
        # Outside a decision trace of its agent the span names its agent, as the decorators'
        # do: on a provider several agents share, only this agent's pipeline exports it.
        attrs[A.GEN_AI_AGENT_ID] = recorder.agent_id
    active = recorder.open(name, attrs, None, kind=SpanKind.CLIENT)
    if active is not None:
        try:
            # The context `open` made current and its span's, handed over: not looked up again.
            inject_span_context(request.headers, active.span.get_span_context(), active.context)
        except Exception as exc:  # noqa: BLE001 - the request goes out without the header
            recorder.misuse_guard.failed("injecting traceparent", exc)
    return active


def finish_response(
    recorder: Recorder, active: ActiveSpan | None, request: httpx.Request, status_code: int
) -> Span | None:
    """Record the response status on the span (failure when it is >= 400) and undo what
    `start_request` made current. The span stays open until the body is done with (read to its
    end, left or closed: `end_span`): reading the body may still fail the call. Never raises; None when the span is gone."""
    if active is None:
        return None
    span = active.span
    try:
        recorder.detach(active)
        # The exporter derives the event's `method`/`url`/`statusCode` attributes from these.
        # One `set_attribute` on success: the SDK's mapping variant costs twice as much.
        span.set_attribute(A.HTTP_RESPONSE_STATUS_CODE, status_code)
        if status_code >= _FAILURE_STATUS:
            span.set_attribute(A.EVENT_STATUS, A.EventStatuses.FAILURE)
            span.set_status(Status(StatusCode.ERROR, str(status_code)))
    except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
        recorder.guard.failed("ending a request span", exc)
    return span


def end_span(recorder: Recorder, span: Span, error: BaseException | None = None) -> None:
    """End a request's span once its body is done with; failed first when reading it raised
    `error`. Never raises."""
    try:
        if error is not None:
            mark_failed(span, error, recorder.scrubber)
        span.end()
    except Exception as exc:  # noqa: BLE001 - telemetry never raises into the agent
        recorder.guard.failed("ending a request span", exc)


class _SpanOfBody:
    """What the two tracked bodies share: the span they end once (`_end`), also when the
    response is collected unclosed (`__del__`)."""

    __slots__ = ("_recorder", "_span")

    _recorder: Recorder
    _span: Span | None

    def _end(self, error: BaseException | None) -> None:
        span, self._span = self._span, None
        if span is not None:
            end_span(self._recorder, span, error)

    def __del__(self) -> None:
        # A `stream=True` response dropped before it was read or closed: its event still ends
        # (once the response is collected), as one left mid-read does (`GeneratorExit`).
        if self._span is not None:
            with contextlib.suppress(Exception):  # at interpreter exit, module state may be gone
                self._end(None)


class _TrackedBody(_SpanOfBody, httpx.SyncByteStream):
    """A tracked response's body: its span ends when the body is read to its end, when reading
    it stops (a consumer leaving early), when it is closed, or when the response is collected
    unclosed (dropped mid-read, or before it was read at all); failed when reading the body
    raised (a peer closing mid-body, a read timeout)."""

    __slots__ = ("_inner",)

    def __init__(self, inner: httpx.SyncByteStream, recorder: Recorder, span: Span) -> None:
        self._inner = inner
        self._recorder = recorder
        self._span: Span | None = span

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._inner
        except GeneratorExit:  # the consumer stopped reading, or dropped the response unclosed
            self._end(None)
            raise
        except BaseException as exc:
            self._end(exc)
            raise
        self._end(None)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._end(None)


class _AsyncTrackedBody(_SpanOfBody, httpx.AsyncByteStream):
    """The `httpx.AsyncByteStream` twin of `_TrackedBody`."""

    __slots__ = ("_inner",)

    def __init__(self, inner: httpx.AsyncByteStream, recorder: Recorder, span: Span) -> None:
        self._inner = inner
        self._recorder = recorder
        self._span: Span | None = span

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except GeneratorExit:  # the consumer stopped reading, or dropped the response unclosed
            self._end(None)
            raise
        except BaseException as exc:
            self._end(exc)
            raise
        self._end(None)

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._end(None)


def finish_error(recorder: Recorder, active: ActiveSpan | None, error: BaseException) -> None:
    """End the span of a request that raised. Never raises."""
    if active is None:
        return
    try:
        recorder.detach(active)
        mark_failed(active.span, error, recorder.scrubber)
        active.span.end()
    except Exception as exc:  # noqa: BLE001 - the application's exception matters, not ours
        recorder.guard.failed("ending a request span", exc)


class TrackingTransport(httpx.BaseTransport):
    """An `httpx.BaseTransport` recording each request through `inner` as a `tool_call` event.

    Args:
        client: the Tracengent client whose tracer records the spans.
        inner: the transport that sends the requests (default: `httpx.HTTPTransport()`).

    `handle_request` blocks as long as `inner` does; `inner`'s exceptions propagate unchanged.
    The span ends when the response body is closed (httpx closes it once read), failed when
    reading the body raised.
    """

    def __init__(self, client: TracengentClient, inner: httpx.BaseTransport | None = None) -> None:
        self._recorder = client.recorder
        self._inner = inner if inner is not None else httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` through `inner` inside its event span."""
        active = start_request(self._recorder, request)
        try:
            response = self._inner.handle_request(request)
        except BaseException as exc:
            finish_error(self._recorder, active, exc)
            raise
        span = finish_response(self._recorder, active, request, response.status_code)
        if span is not None:
            stream = response.stream
            if isinstance(stream, httpx.SyncByteStream) and not isinstance(
                stream, httpx.ByteStream
            ):
                response.stream = _TrackedBody(stream, self._recorder, span)
            else:  # a body in memory (httpx never closes it; it cannot fail), or a foreign one
                end_span(self._recorder, span)
        return response

    def close(self) -> None:
        """Close the inner transport."""
        self._inner.close()


class AsyncTrackingTransport(httpx.AsyncBaseTransport):
    """The `httpx.AsyncBaseTransport` twin of `TrackingTransport`.

    Args:
        client: the Tracengent client whose tracer records the spans.
        inner: the transport that sends the requests (default: `httpx.AsyncHTTPTransport()`).
    """

    def __init__(
        self, client: TracengentClient, inner: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._recorder = client.recorder
        self._inner = inner if inner is not None else httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` through `inner` inside its event span."""
        active = start_request(self._recorder, request)
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException as exc:
            finish_error(self._recorder, active, exc)
            raise
        span = finish_response(self._recorder, active, request, response.status_code)
        if span is not None:
            stream = response.stream
            if isinstance(stream, httpx.AsyncByteStream) and not isinstance(
                stream, httpx.ByteStream
            ):
                response.stream = _AsyncTrackedBody(stream, self._recorder, span)
            else:  # a body in memory (httpx never closes it; it cannot fail), or a foreign one
                end_span(self._recorder, span)
        return response

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()


def tracked_client(
    client: TracengentClient,
    *,
    inner: httpx.BaseTransport | None = None,
    **httpx_kwargs: object,
) -> httpx.Client:
    """An `httpx.Client` whose every request is recorded as a `tool_call` event.

    `httpx_kwargs` go to `httpx.Client`; without `inner`, its transport settings (`verify`,
    `cert`, `trust_env`, `http1`, `http2`, `limits`) build the transport that sends, and (with
    `trust_env`, as a plain `httpx.Client`) one through each proxy that `HTTP_PROXY`,
    `HTTPS_PROXY` or `ALL_PROXY` names, except for `NO_PROXY` hosts; each is tracked. Never
    blocks.

    Raises:
        TypeError: `transport`, `mounts`, `proxy` or `proxies` was given (they would route
            requests around the tracking; `inner=` takes the transport).
    """
    client_kwargs, transport_kwargs = split_client_kwargs(
        httpx_kwargs, clients="tracked clients", layer="the tracking"
    )
    mounts: dict[str, httpx.BaseTransport | None] = {}
    if inner is None:
        inner = httpx.HTTPTransport(**transport_kwargs)
        mounts = environment_mounts(
            transport_kwargs, httpx.HTTPTransport, lambda sender: TrackingTransport(client, sender)
        )
    return httpx.Client(
        transport=TrackingTransport(client, inner), mounts=mounts or None, **client_kwargs
    )


def tracked_async_client(
    client: TracengentClient,
    *,
    inner: httpx.AsyncBaseTransport | None = None,
    **httpx_kwargs: object,
) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` whose every request is recorded as a `tool_call` event (the
    arguments as `tracked_client` takes them)."""
    client_kwargs, transport_kwargs = split_client_kwargs(
        httpx_kwargs, clients="tracked clients", layer="the tracking"
    )
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    if inner is None:
        inner = httpx.AsyncHTTPTransport(**transport_kwargs)
        mounts = environment_mounts(
            transport_kwargs,
            httpx.AsyncHTTPTransport,
            lambda sender: AsyncTrackingTransport(client, sender),
        )
    return httpx.AsyncClient(
        transport=AsyncTrackingTransport(client, inner), mounts=mounts or None, **client_kwargs
    )
