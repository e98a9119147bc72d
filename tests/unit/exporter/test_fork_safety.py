"""A child made by `os.fork()` exports on its own: connections, locks and counters of its own.

Each test forks this process: the child runs one scenario, reports back through a pipe as JSON
and leaves with `os._exit`; a child that does not report in time is blocked, and is killed.
"""

from __future__ import annotations

import gzip
import json
import os
import select
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import cast

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._stats import DropReason
from opentelemetry.exporter.tracengent.exporter import TracengentSpanExporter
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.processor import TracengentSpanProcessor
from opentelemetry.exporter.tracengent.transport import PlatformClient
from tests.support.loopback import LoopbackServer, Received, Reply, json_reply, serve

from .conftest import SpanMaker

Report = dict[str, object]

_CHILD_TIMEOUT_S = 5.0
"""How long a child may take to report; the scenarios need well under a second."""

_NO_FLUSH_MS = 60_000
"""A schedule delay the tests never reach: only `force_flush` sends."""


def in_child(scenario: Callable[[], Report]) -> Report:
    """Run `scenario` in a forked child and return its report; fail if the child blocks."""
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a process with threads may deadlock: the very hazard
        # these tests check the exporter survives.
        warnings.filterwarnings("ignore", message=".*fork", category=DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        try:
            os.close(read_fd)
            try:
                report = scenario()
            # Even SystemExit or KeyboardInterrupt: the child must reach os._exit, never pytest.
            except BaseException as exc:  # noqa: BLE001 - reported to the parent, below
                report = {"error": f"{type(exc).__name__}: {exc}"}
            os.write(write_fd, json.dumps(report).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([read_fd], [], [], _CHILD_TIMEOUT_S)
            if not ready:
                os.kill(pid, signal.SIGKILL)
                pytest.fail(f"the child did not report within {_CHILD_TIMEOUT_S}s: it is blocked")
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        os.waitpid(pid, 0)
    assert chunks, "the child exited without a report"
    report = cast(Report, json.loads(b"".join(chunks)))
    assert "error" not in report, report["error"]
    return report


def accepted(events: int) -> httpx.Response:
    """The platform's answer to an accepted batch."""
    return httpx.Response(200, json={"accepted": events, "stored": events, "duplicates": 0})


def batch_size(request: httpx.Request) -> int:
    """How many events an ingest request carries."""
    body = request.read()
    if request.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return len(json.loads(body))


def ingest_key_options(base_url: str = "http://platform.test") -> TracengentOptions:
    """Options authenticating with an ingest key (no token round trip)."""
    return TracengentOptions(
        agent_id="billing-agent", ingest_key="agk_test", base_url=base_url, request_timeout_s=3.0
    )


def client_credentials_options() -> TracengentOptions:
    """Options authenticating with an OAuth token (client credentials)."""
    return TracengentOptions(
        agent_id="billing-agent",
        client_id="key_test",
        client_secret="ags_test",
        base_url="http://platform.test",
        request_timeout_s=3.0,
    )


Builder = Callable[..., TracengentSpanProcessor]


@pytest.fixture
def make_processor(processors: list[TracengentSpanProcessor]) -> Builder:
    """`make(exporter, **processor_kwargs)`: a processor that only sends on `force_flush`."""

    def make(exporter: TracengentSpanExporter, **kwargs: int) -> TracengentSpanProcessor:
        kwargs.setdefault("schedule_delay_ms", _NO_FLUSH_MS)
        processor = TracengentSpanProcessor(exporter, **kwargs)
        processors.append(processor)
        return processor

    return make


def event_span(make_span: SpanMaker, name: str) -> ReadableSpan:
    """A finished span exported as an event called `name`."""
    return make_span(name, {A.EVENT_TYPE: "action"})


def _accept_events(received: Received) -> Reply:
    events = cast("list[dict[str, object]]", received.json())
    return json_reply({"accepted": len(events), "stored": len(events), "duplicates": 0})


@pytest.fixture
def loopback_platform() -> Iterator[LoopbackServer]:
    """A tiny keep-alive ingest server on a free loopback port, stopped after the test."""
    with serve(_accept_events, keep_alive=True) as server:
        yield server


def test_the_child_sends_on_a_connection_of_its_own(
    loopback_platform: LoopbackServer, make_processor: Builder, make_span: SpanMaker
) -> None:
    """The parent's kept-alive connection is never written to by the child."""
    exporter = TracengentSpanExporter(ingest_key_options(loopback_platform.url))
    processor = make_processor(exporter)
    processor.on_end(event_span(make_span, "parent"))
    assert processor.force_flush(3000)
    child_span = event_span(make_span, "child")

    def scenario() -> Report:
        processor.on_end(child_span)
        processor.force_flush(3000)
        return {}

    in_child(scenario)
    ports = {
        cast("list[dict[str, object]]", received.json())[0]["name"]: received.client_port
        for received in loopback_platform.received
    }
    assert ports["child"] != ports["parent"]


def test_the_childs_counters_hold_only_its_own_deliveries(
    make_processor: Builder, make_span: SpanMaker
) -> None:
    """The child's `stats` start at zero; the parent's stay as they were."""
    transport = httpx.MockTransport(lambda request: accepted(batch_size(request)))
    exporter = TracengentSpanExporter(ingest_key_options(), transport=transport)
    processor = make_processor(exporter)
    processor.on_end(event_span(make_span, "parent"))
    processor.force_flush(3000)
    processor.stats.add_dropped(DropReason.QUEUE_FULL)
    child_span = event_span(make_span, "child")

    def scenario() -> Report:
        processor.on_end(child_span)
        processor.force_flush(3000)
        return {"delivered": processor.stats.delivered, "dropped": processor.dropped_count}

    assert in_child(scenario) == {"delivered": 1, "dropped": 0}
    assert (processor.stats.delivered, processor.dropped_count) == (1, 1)


def test_a_token_fetch_in_flight_at_the_fork_does_not_block_the_child(
    make_processor: Builder, make_span: SpanMaker
) -> None:
    """The fetch lock the parent's worker holds at the fork is not the child's: it fetches."""
    parent_pid = os.getpid()
    fetching, release = threading.Event(), threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/oauth/token":
            if os.getpid() == parent_pid:
                fetching.set()
                release.wait(10)
            return httpx.Response(200, json={"access_token": "a.b.c", "expires_in": 900})
        return accepted(batch_size(request))

    exporter = TracengentSpanExporter(
        client_credentials_options(), transport=httpx.MockTransport(handler)
    )
    processor = make_processor(exporter, schedule_delay_ms=1)
    processor.on_end(event_span(make_span, "parent"))
    child_span = event_span(make_span, "child")
    assert fetching.wait(5)

    def scenario() -> Report:
        processor.on_end(child_span)
        processor.force_flush(3000)
        return {"delivered": processor.stats.delivered}

    try:
        assert in_child(scenario) == {"delivered": 1}
    finally:
        release.set()


def test_a_cached_token_is_reused_by_the_child(
    make_processor: Builder, make_span: SpanMaker
) -> None:
    """A token the parent fetched before the fork is still valid: the child does not refetch."""
    token_fetches: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/oauth/token":
            token_fetches.append(os.getpid())
            return httpx.Response(200, json={"access_token": "a.b.c", "expires_in": 900})
        return accepted(batch_size(request))

    exporter = TracengentSpanExporter(
        client_credentials_options(), transport=httpx.MockTransport(handler)
    )
    processor = make_processor(exporter)
    processor.on_end(event_span(make_span, "parent"))
    processor.force_flush(3000)
    child_span = event_span(make_span, "child")

    def scenario() -> Report:
        processor.on_end(child_span)
        processor.force_flush(3000)
        return {"delivered": processor.stats.delivered, "fetches": len(token_fetches)}

    assert in_child(scenario) == {"delivered": 1, "fetches": 1}


def test_a_stats_lock_held_at_the_fork_does_not_block_on_end_in_the_child(
    make_processor: Builder, make_span: SpanMaker
) -> None:
    """A drop counted by the agent's thread in the child takes a lock of the child's own."""
    transport = httpx.MockTransport(lambda request: accepted(batch_size(request)))
    exporter = TracengentSpanExporter(ingest_key_options(), transport=transport)
    processor = make_processor(exporter, max_queue_size=1)
    spans = [event_span(make_span, f"child-{index}") for index in range(2)]
    held, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        # As the worker does for a moment in every count; held here across the fork.
        with processor.stats._lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert held.wait(5)

    def scenario() -> Report:
        for span in spans:  # the second one finds the (child's) queue full
            processor.on_end(span)
        return {"queue_full": processor.stats.dropped(DropReason.QUEUE_FULL)}

    try:
        assert in_child(scenario) == {"queue_full": 1}
    finally:
        release.set()
        holder.join()


def test_interrupt_in_the_child_wakes_the_platform_backoff() -> None:
    """The child's exporter and its platform client still share one stop event."""
    posts: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        posts.append(os.getpid())
        return httpx.Response(503, headers={"Retry-After": "20"})

    exporter = TracengentSpanExporter(ingest_key_options(), transport=httpx.MockTransport(handler))
    platform = exporter._platform
    assert isinstance(platform, PlatformClient)

    def scenario() -> Report:
        exporter.after_fork()
        exporter.interrupt()
        # A deadline far enough for the 20 s backoff to be waited (not given up at once).
        result = platform.post_events([{"name": "e"}], deadline=time.monotonic() + 60)
        return {"failed": result.failed, "posts": len(posts)}

    try:
        assert in_child(scenario) == {"failed": 1, "posts": 1}
    finally:
        exporter.shutdown()


def test_after_fork_in_the_parent_changes_nothing(make_span: SpanMaker) -> None:
    """Called in the process that made the exporter, the hook keeps counters and connections."""
    transport = httpx.MockTransport(lambda request: accepted(batch_size(request)))
    exporter = TracengentSpanExporter(ingest_key_options(), transport=transport)
    platform = exporter._platform
    assert isinstance(platform, PlatformClient)
    exporter.export([event_span(make_span, "parent")])
    http = platform._http
    exporter.after_fork()
    assert exporter.stats.delivered == 1
    assert platform._http is http
    exporter.shutdown()


def test_a_failing_reset_in_the_child_is_counted_not_raised(
    monkeypatch: pytest.MonkeyPatch, make_processor: Builder, make_span: SpanMaker
) -> None:
    """The fork hook never raises: an unexpected failure is counted as an internal error."""
    transport = httpx.MockTransport(lambda request: accepted(batch_size(request)))
    exporter = TracengentSpanExporter(ingest_key_options(), transport=transport)
    processor = make_processor(exporter)

    def broken(self: PlatformClient, **_: object) -> None:
        raise RuntimeError("broken reset")

    def scenario() -> Report:
        return {"internal_errors": processor.stats.internal_errors}

    monkeypatch.setattr(PlatformClient, "after_fork", broken)
    assert in_child(scenario) == {"internal_errors": 1}
