"""A long `Retry-After` holds the later batches in the buffer instead of dropping them (review 3).

The platform answers one batch 429 with `Retry-After: 60`. A call waits at most 30 s for such a
time, so before, every batch taken during the next 60 s failed unsent and was counted
(`retries_exhausted`): a rate limit lost a minute of events. Now the worker takes no batch while
more than `HOLD_LONGER_THAN_S` of the pause is left; the events stay buffered (bounded by the
queue, overflow counted `queue_full`) and go out once the pause ends. The batch that received the
429 is still counted. The platform client runs on a fake clock, so no test waits a minute.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator

import httpx
import pytest

from opentelemetry.exporter.tracengent import TracengentSpanExporter, TracengentSpanProcessor
from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._stats import DropReason
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.processor import HOLD_LONGER_THAN_S
from opentelemetry.exporter.tracengent.transport import PlatformClient

from .conftest import SpanMaker

ACTION = {A.EVENT_TYPE: "action"}


class FakeTime:
    """A monotonic clock the test moves; the platform client's waits move it too."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> bool:
        self.slept.append(seconds)
        self.now += seconds
        return False


class Platform:
    """Answers the first ingest 429 with `Retry-After: 60`, every later one 200."""

    def __init__(self) -> None:
        self.batches: list[bytes] = []
        self.lock = threading.Lock()

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            body = request.read()
            if request.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            self.batches.append(body)
            first = len(self.batches) == 1
        if first:
            return httpx.Response(429, headers={"Retry-After": "60"}, json={})
        return httpx.Response(200, json={})


@pytest.fixture
def pipeline() -> Iterator[tuple[TracengentSpanProcessor, Platform, FakeTime]]:
    options = TracengentOptions(agent_id="billing-agent", ingest_key="agk_test", max_retries=0)
    time = FakeTime()
    platform = Platform()
    stop = threading.Event()
    client = PlatformClient(
        options,
        transport=httpx.MockTransport(platform.handle),
        stop_event=stop,
        clock=time.clock,
        sleep=time.sleep,
    )
    exporter = TracengentSpanExporter(options, platform=client, stop_event=stop)
    processor = TracengentSpanProcessor(exporter, schedule_delay_ms=60_000)
    yield processor, platform, time
    processor.shutdown(timeout_millis=1_000)


def test_batches_during_a_long_retry_after_are_held_then_sent(
    pipeline: tuple[TracengentSpanProcessor, Platform, FakeTime], make_span: SpanMaker
) -> None:
    processor, platform, time = pipeline
    processor.on_end(make_span("refused", ACTION))
    assert not processor.force_flush(2_000)
    assert len(platform.batches) == 1

    for name in ("held-1", "held-2"):
        processor.on_end(make_span(name, ACTION))
    # The pause has 60 s left: nothing is taken, nothing is sent, nothing is counted.
    assert not processor.force_flush(2_000)
    assert len(platform.batches) == 1
    assert processor.stats.dropped(DropReason.RETRIES_EXHAUSTED) == 1
    assert processor.stats.dropped_count == 1

    # Past the hold: the call waits out the rest of the pause (on the fake clock), then sends.
    time.now += 60.0 - HOLD_LONGER_THAN_S + 1.0
    assert processor.force_flush(2_000)
    assert len(platform.batches) == 2
    assert [event["name"] for event in json.loads(platform.batches[1])] == ["held-1", "held-2"]
    assert processor.stats.dropped_count == 1
    assert time.slept
    assert max(time.slept) <= HOLD_LONGER_THAN_S


def test_a_full_buffer_during_the_hold_does_not_wake_the_worker(
    pipeline: tuple[TracengentSpanProcessor, Platform, FakeTime], make_span: SpanMaker
) -> None:
    """While held, a full batch in the buffer does not wake the worker for every span."""
    processor, platform, _ = pipeline
    processor.on_end(make_span("refused", ACTION))
    assert not processor.force_flush(2_000)
    assert not processor.force_flush(2_000)  # the worker has seen the hold
    for index in range(250):
        processor.on_end(make_span(f"held-{index}", ACTION))
    assert not processor._wake.is_set()
    assert len(platform.batches) == 1
