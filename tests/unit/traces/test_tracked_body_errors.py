"""Tracked requests whose response body fails: the call raised, so the event is a failure."""

from __future__ import annotations

import gc
import socket
import threading
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from opentelemetry.trace import StatusCode

from opentelemetry.exporter.tracengent import attributes as A
from tests.unit.traces.conftest import ClientHarness
from tracengent import tracked_async_client, tracked_client


class _CutBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that breaks after its first chunk, as a peer closing mid-body does."""

    def __iter__(self) -> Iterator[bytes]:
        yield b'{"partial":'
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"partial":'
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")


class _WholeBody(httpx.SyncByteStream):
    """A body streamed in two chunks (not in memory, as a real transport's)."""

    def __iter__(self) -> Iterator[bytes]:
        yield b"ab"
        yield b"c"


def _cut(_: httpx.Request) -> httpx.Response:
    return httpx.Response(200, stream=_CutBody())


def _whole(_: httpx.Request) -> httpx.Response:
    return httpx.Response(200, stream=_WholeBody())


def test_a_body_that_breaks_marks_the_event_failed(client_harness: ClientHarness) -> None:
    with (
        tracked_client(client_harness.client, inner=httpx.MockTransport(_cut)) as http,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        http.get("https://api.example/items")
    span = client_harness.span("GET api.example/items")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})[A.EVENT_STATUS] == "failure"
    assert [event.name for event in span.events] == ["exception"]


async def test_an_async_body_that_breaks_marks_the_event_failed(
    client_harness: ClientHarness,
) -> None:
    async with tracked_async_client(client_harness.client, inner=httpx.MockTransport(_cut)) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get("https://api.example/items")
    span = client_harness.span("GET api.example/items")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})[A.EVENT_STATUS] == "failure"


def test_a_streamed_response_read_whole_is_a_success_ended_at_close(
    client_harness: ClientHarness,
) -> None:
    """A streamed body read to its end: one successful event, ended once the body is closed."""
    with tracked_client(client_harness.client, inner=httpx.MockTransport(_whole)) as http:
        with http.stream("GET", "https://api.example/s") as response:
            assert client_harness.memory.get_finished_spans() == ()
            assert response.read() == b"abc"
        span = client_harness.span("GET api.example/s")
    assert span.status.status_code is StatusCode.UNSET
    assert (span.attributes or {})[A.HTTP_RESPONSE_STATUS_CODE] == 200


def test_a_stream_left_early_is_a_success(client_harness: ClientHarness) -> None:
    """A consumer that stops reading and closes the response did not fail the call."""
    with (
        tracked_client(client_harness.client, inner=httpx.MockTransport(_whole)) as http,
        http.stream("GET", "https://api.example/s") as response,
    ):
        for _chunk in response.iter_raw():
            break
    span = client_harness.span("GET api.example/s")
    assert span.status.status_code is StatusCode.UNSET
    assert A.EVENT_STATUS not in (span.attributes or {})


def test_a_stream_dropped_unclosed_still_ends_its_event(client_harness: ClientHarness) -> None:
    """A consumer that stops reading and drops the response without closing it (an abandoned
    LLM stream): the event is recorded, a success, once the response is collected."""
    with tracked_client(client_harness.client, inner=httpx.MockTransport(_whole)) as http:
        response = http.send(http.build_request("GET", "https://api.example/d"), stream=True)
        for _chunk in response.iter_raw():
            break
        del response, _chunk
        gc.collect()
        span = client_harness.span("GET api.example/d")
    assert span.status.status_code is StatusCode.UNSET


def test_a_stream_dropped_before_it_was_read_still_ends_its_event(
    client_harness: ClientHarness,
) -> None:
    """A `stream=True` response never read and never closed, then dropped: no generator ever
    ran over its body, yet its event is recorded, a success, once the response is collected."""
    with tracked_client(client_harness.client, inner=httpx.MockTransport(_whole)) as http:
        response = http.send(http.build_request("GET", "https://api.example/u"), stream=True)
        assert client_harness.memory.get_finished_spans() == ()
        del response
        gc.collect()
        span = client_harness.span("GET api.example/u")
    assert span.status.status_code is StatusCode.UNSET
    assert (span.attributes or {})[A.HTTP_RESPONSE_STATUS_CODE] == 200


async def test_an_async_stream_dropped_before_it_was_read_still_ends_its_event(
    client_harness: ClientHarness,
) -> None:
    """The async twin: an unread, unclosed streamed response ends its event once collected."""

    class _AsyncWhole(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield b"abc"

    inner = httpx.MockTransport(lambda _: httpx.Response(200, stream=_AsyncWhole()))
    async with tracked_async_client(client_harness.client, inner=inner) as http:
        response = await http.send(http.build_request("GET", "https://api.example/au"), stream=True)
        assert client_harness.memory.get_finished_spans() == ()
        del response
        gc.collect()
        span = client_harness.span("GET api.example/au")
    assert span.status.status_code is StatusCode.UNSET


def test_a_stream_closed_then_collected_ends_its_event_once(client_harness: ClientHarness) -> None:
    """Collection after the body was closed ends nothing more: one span, not two."""
    with tracked_client(client_harness.client, inner=httpx.MockTransport(_whole)) as http:
        response = http.send(http.build_request("GET", "https://api.example/c"), stream=True)
        response.close()
        del response
        gc.collect()
    names = [span.name for span in client_harness.memory.get_finished_spans()]
    assert names.count("GET api.example/c") == 1


def test_a_body_in_memory_ends_the_event_with_the_request(client_harness: ClientHarness) -> None:
    """A response whose body is already in memory (httpx never closes it) ends its span at once."""
    with tracked_client(
        client_harness.client, inner=httpx.MockTransport(lambda _: httpx.Response(200, text="ok"))
    ) as http:
        response = http.send(http.build_request("GET", "https://api.example/m"), stream=True)
        assert client_harness.span("GET api.example/m").status.status_code is StatusCode.UNSET
        response.close()


def test_a_server_that_closes_mid_body_marks_the_event_failed(
    client_harness: ClientHarness,
) -> None:
    """A real server on loopback promises 100 bytes, sends 10 and closes the connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n0123456789"
            )

    server = threading.Thread(target=answer, daemon=True)
    server.start()
    try:
        with (
            tracked_client(client_harness.client) as http,
            pytest.raises(httpx.RemoteProtocolError),
        ):
            http.get(f"http://127.0.0.1:{port}/orders")
    finally:
        server.join(timeout=10)
        listener.close()
    span = client_harness.span("GET 127.0.0.1/orders")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})[A.EVENT_STATUS] == "failure"
