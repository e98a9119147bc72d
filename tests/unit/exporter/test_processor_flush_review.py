"""`TracengentSpanProcessor`: what `force_flush` reports, and deadlines a slow platform cannot stretch."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan

from opentelemetry.exporter.tracengent import (
    DropReason,
    TracengentSpanExporter,
    TracengentSpanProcessor,
)
from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.processor import _shut_down_together

from .conftest import FakePlatform, FakeResult, Responder, SpanMaker, deliver_all, wait_until

ACTION = {A.EVENT_TYPE: "action"}
MARGIN_S = 1.5
"""How much longer than its timeout a call may take on a busy machine."""


def over(
    exporter: TracengentSpanExporter,
    processors: list[TracengentSpanProcessor],
    **sizes: int,
) -> TracengentSpanProcessor:
    """A processor over `exporter` whose worker sleeps unless woken, shut down after the test."""
    processor = TracengentSpanProcessor(exporter, schedule_delay_ms=60_000, **sizes)
    processors.append(processor)
    return processor


def over_fake(
    options: TracengentOptions,
    processors: list[TracengentSpanProcessor],
    respond: Responder,
    **sizes: int,
) -> tuple[TracengentSpanProcessor, FakePlatform]:
    """A processor over a fake platform answering with `respond`."""
    platform = FakePlatform(respond=respond)
    exporter = TracengentSpanExporter(options, platform=platform, stop_event=platform.stop_event)
    return over(exporter, processors, **sizes), platform


def feed(processor: TracengentSpanProcessor, spans: Sequence[ReadableSpan]) -> None:
    """End `spans` into the processor as the SDK would."""
    for span in spans:
        processor.on_end(span)


def rejecting(events: Sequence[JsonObject]) -> FakeResult:
    """The platform rejects every batch permanently."""
    return FakeResult(0, rejected=len(events), reason="HTTP 400", status_code=400)


def unreachable(events: Sequence[JsonObject]) -> FakeResult:
    """The platform stayed unreachable through the retries."""
    return FakeResult(0, failed=len(events), reason="HTTP 503", status_code=503)


@pytest.mark.parametrize("respond", [rejecting, unreachable], ids=["rejected", "retries"])
def test_force_flush_is_false_when_what_it_took_was_dropped(
    options: TracengentOptions,
    processors: list[TracengentSpanProcessor],
    make_span: SpanMaker,
    respond: Responder,
) -> None:
    """ "True when all went out": a flush whose events were dropped reports False."""
    processor, _ = over_fake(options, processors, respond)
    feed(processor, [make_span(f"a{i}", ACTION) for i in range(5)])
    assert not processor.force_flush(10_000)
    assert processor.dropped_count == 5
    assert processor.queued == 0


def test_a_failed_flush_does_not_make_the_next_one_fail(
    options: TracengentOptions, processors: list[TracengentSpanProcessor], make_span: SpanMaker
) -> None:
    """Once the platform accepts again, a new flush of new events reports True."""
    answers = [rejecting]
    processor, _ = over_fake(
        options, processors, lambda events: (answers.pop() if answers else deliver_all)(events)
    )
    feed(processor, [make_span("a", ACTION)])
    assert not processor.force_flush(10_000)
    feed(processor, [make_span("b", ACTION)])
    assert processor.force_flush(10_000)
    assert processor.stats.delivered == 1


def test_force_flush_is_false_when_the_batch_in_flight_at_the_call_is_dropped(
    options: TracengentOptions, processors: list[TracengentSpanProcessor], make_span: SpanMaker
) -> None:
    """Events the worker had already taken when the flush was called count toward its result."""
    entered, release = threading.Event(), threading.Event()

    def slow_rejection(events: Sequence[JsonObject]) -> FakeResult:
        entered.set()
        release.wait(10)
        return rejecting(events)

    processor, _ = over_fake(options, processors, slow_rejection, max_batch_size=1)
    feed(processor, [make_span("a", ACTION)])  # a full batch: the worker takes it at once
    assert entered.wait(10)
    results: list[bool] = []
    flusher = threading.Thread(target=lambda: results.append(processor.force_flush(10_000)))
    flusher.start()
    assert wait_until(lambda: bool(processor._flush_requests))
    release.set()
    flusher.join(10)
    assert results == [False]


def test_force_flush_after_shutdown_is_false(
    options: TracengentOptions, processors: list[TracengentSpanProcessor]
) -> None:
    """A shut-down processor flushes nothing (as OTel's batch processor)."""
    processor, _ = over_fake(options, processors, rejecting)
    processor.shutdown(timeout_millis=1000)
    assert not processor.force_flush(1000)


def test_a_short_flush_timeout_drops_nothing_the_worker_can_still_deliver(
    options: TracengentOptions, processors: list[TracengentSpanProcessor], make_span: SpanMaker
) -> None:
    """A 503 blip outlasting a flush's timeout: the flush reports False, the worker delivers all."""
    answers = [503, 503]
    mock = httpx.MockTransport(lambda _: httpx.Response(answers.pop(0) if answers else 200))
    exporter = TracengentSpanExporter(options, transport=mock)
    processor = over(exporter, processors)
    feed(processor, [make_span(f"a{i}", ACTION) for i in range(250)])
    # The first retry alone waits 0.2 s (backoff from 0.2 s, jitter on top).
    assert not processor.force_flush(timeout_millis=100)
    assert processor.dropped_count == 0
    assert processor.force_flush(timeout_millis=10_000)
    assert processor.stats.delivered == 250
    assert processor.dropped_count == 0


@dataclass
class TrickleServer:
    """A platform on loopback that answers 200 at once, then sends the body a byte at a time."""

    url: str
    answered: threading.Event
    """Set when a response was sent in full (or the connection broke)."""
    hurry: threading.Event
    """Set it to have the rest of the body sent at once."""


_BODY_BYTES = 100
_BYTE_INTERVAL_S = 0.1


def _read_request(conn: socket.socket) -> None:
    """Read one HTTP request (headers and a Content-Length body) from `conn`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


@pytest.fixture
def trickle_server() -> Iterator[TrickleServer]:
    """Serve trickled answers on a free loopback port for the test; stop it afterwards."""
    listener = socket.create_server(("127.0.0.1", 0))
    address = listener.getsockname()
    server = TrickleServer(f"http://127.0.0.1:{address[1]}", threading.Event(), threading.Event())
    stopping = threading.Event()
    connections: list[threading.Thread] = []

    def answer(conn: socket.socket) -> None:
        with conn:
            try:
                _read_request(conn)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    b"Content-Length: %d\r\n\r\n" % _BODY_BYTES
                )
                for sent in range(_BODY_BYTES):
                    if server.hurry.wait(_BYTE_INTERVAL_S):
                        conn.sendall(b"x" * (_BODY_BYTES - sent))
                        break
                    conn.sendall(b"x")
            except OSError:
                pass  # the client gave up on the connection
            finally:
                server.answered.set()

    def accept() -> None:
        while True:
            conn, _ = listener.accept()
            if stopping.is_set():
                conn.close()
                return
            thread = threading.Thread(target=answer, args=(conn,), daemon=True)
            connections.append(thread)
            thread.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield server
    finally:
        server.hurry.set()
        stopping.set()
        # Closing a listener does not wake a thread blocked in accept(); a connection does.
        socket.create_connection(address).close()
        acceptor.join(5)
        listener.close()
        for thread in connections:
            thread.join(5)


def test_flush_and_shutdown_return_in_time_while_the_platform_trickles(
    options: TracengentOptions,
    processors: list[TracengentSpanProcessor],
    make_span: SpanMaker,
    trickle_server: TrickleServer,
) -> None:
    """Per-read timeouts never trip on a trickled answer; the callers' timeouts still hold."""
    slow = dataclasses.replace(options, base_url=trickle_server.url, max_retries=0)
    exporter = TracengentSpanExporter(slow, transport=httpx.HTTPTransport())
    processor = over(exporter, processors)
    feed(processor, [make_span("a", ACTION)])

    started = time.monotonic()
    flushed = processor.force_flush(timeout_millis=300)
    assert time.monotonic() - started < 0.3 + MARGIN_S
    assert not flushed

    feed(processor, [make_span("b", ACTION)])
    started = time.monotonic()
    processor.shutdown(timeout_millis=300)
    assert time.monotonic() - started < 0.3 + MARGIN_S

    # The request in flight and the span behind it are counted by the time shutdown returns...
    stats = processor.stats
    assert stats.dropped(DropReason.SHUTDOWN_TIMEOUT) == 2
    assert stats.delivered + stats.dropped_count == 2
    # ...and once the platform does answer, the abandoned request is not counted again.
    trickle_server.hurry.set()
    assert trickle_server.answered.wait(10)
    processor._worker.join(10)
    assert not processor._worker.is_alive()
    assert stats.delivered == 0
    assert stats.dropped_count == 2


def test_shutdown_counts_a_hung_batch_once_even_when_it_is_answered_later(
    options: TracengentOptions, processors: list[TracengentSpanProcessor], make_span: SpanMaker
) -> None:
    """A request deaf to the interrupt is abandoned at the deadline; its late answer is ignored."""
    entered, release = threading.Event(), threading.Event()

    def deaf(events: Sequence[JsonObject]) -> FakeResult:
        entered.set()
        release.wait(10)
        return FakeResult(len(events))

    processor, _ = over_fake(options, processors, deaf, max_batch_size=2)
    feed(processor, [make_span(f"a{i}", ACTION) for i in range(5)])
    assert entered.wait(10)
    started = time.monotonic()
    processor.shutdown(timeout_millis=300)
    assert time.monotonic() - started < 0.3 + MARGIN_S
    assert processor.stats.dropped(DropReason.SHUTDOWN_TIMEOUT) == 5
    release.set()
    processor._worker.join(10)
    assert processor.stats.delivered == 0
    assert processor.dropped_count == 5
    assert processor.queued == 0


def test_the_exit_flush_of_several_pipelines_is_bounded_once_not_once_each(
    options: TracengentOptions, processors: list[TracengentSpanProcessor], make_span: SpanMaker
) -> None:
    """Three agents' pipelines (one client each) on a platform deaf to the interrupt: the exit
    hooks together take one exit flush bound, not three in a row, and count every span."""
    entered: list[threading.Event] = []
    release = threading.Event()
    exit_timeout_ms = 2000

    def deaf_after(flag: threading.Event) -> Responder:
        def deaf(events: Sequence[JsonObject]) -> FakeResult:
            flag.set()
            release.wait(30)
            return FakeResult(len(events))

        return deaf

    try:
        for _ in range(3):
            flag = threading.Event()
            entered.append(flag)
            platform = FakePlatform(respond=deaf_after(flag))
            exporter = TracengentSpanExporter(
                options, platform=platform, stop_event=platform.stop_event
            )
            processor = TracengentSpanProcessor(
                exporter,
                schedule_delay_ms=60_000,
                max_batch_size=2,
                exit_flush_timeout_ms=exit_timeout_ms,
            )
            processors.append(processor)
            feed(processor, [make_span(f"a{i}", ACTION) for i in range(5)])
        assert all(flag.wait(10) for flag in entered)
        started = time.monotonic()
        # What atexit runs: each processor's hook, the last made first.
        for processor in reversed(processors):
            processor._atexit_hook()
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert elapsed < exit_timeout_ms / 1000 + MARGIN_S
    for processor in processors:
        assert processor.is_shut_down
        processor._worker.join(10)
        assert processor.stats.dropped(DropReason.SHUTDOWN_TIMEOUT) == 5
        assert processor.stats.delivered == 0
        assert processor.queued == 0


@pytest.mark.parametrize("timeout_millis", [10**13, 10**30])
def test_a_timeout_beyond_what_threads_can_wait_still_flushes_and_shuts_down(
    options: TracengentOptions,
    processors: list[TracengentSpanProcessor],
    make_span: SpanMaker,
    timeout_millis: int,
) -> None:
    """A timeout longer than `threading.TIMEOUT_MAX` (≈ 292 years; OTel's API takes any int)
    waits as long as a thread can instead of failing at once: the flush reports the delivery,
    the shutdown delivers what is buffered, nothing is counted as an internal error."""
    processor, platform = over_fake(options, processors, deliver_all)
    feed(processor, [make_span("a", ACTION)])
    assert processor.force_flush(timeout_millis)
    feed(processor, [make_span("b", ACTION)])
    processor.shutdown(timeout_millis)
    assert processor.stats.delivered == 2
    assert processor.dropped_count == 0
    assert processor.stats.internal_errors == 0
    assert len(platform.calls) == 2


def test_a_shorter_exit_timeout_is_interrupted_at_its_own_deadline_not_a_longer_ones(
    options: TracengentOptions, processors: list[TracengentSpanProcessor], make_span: SpanMaker
) -> None:
    """Pipelines shut down together with different exit timeouts: the one with the shorter
    timeout has its request told to give up near its own deadline, not after the longer
    pipeline's wait (however the pipelines are ordered)."""
    release = threading.Event()
    entered = [threading.Event(), threading.Event()]
    woken_at: list[float] = []

    def deaf(events: Sequence[JsonObject]) -> FakeResult:
        entered[0].set()
        release.wait(30)
        return FakeResult(len(events))

    short_platform = FakePlatform(respond=deliver_all)

    def interruptible(events: Sequence[JsonObject]) -> FakeResult:
        entered[1].set()
        if short_platform.stop_event.wait(30):
            woken_at.append(time.monotonic())
        return FakeResult(0, failed=len(events), reason="interrupted")

    short_platform.respond = interruptible
    long_platform = FakePlatform(respond=deaf)
    pipelines = []
    for platform in (long_platform, short_platform):
        exporter = TracengentSpanExporter(
            options, platform=platform, stop_event=platform.stop_event
        )
        processor = over(exporter, processors, max_batch_size=1)
        feed(processor, [make_span("a", ACTION)])
        pipelines.append(processor)
    try:
        assert all(flag.wait(10) for flag in entered)
        started = time.monotonic()
        _shut_down_together(((pipelines[0], 5000), (pipelines[1], 500)))
    finally:
        release.set()
    assert woken_at
    assert woken_at[0] - started < 0.5 + MARGIN_S
