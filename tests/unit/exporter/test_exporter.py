"""`TracengentSpanExporter`: batching, ordering, counted drops, the not-configured no-op."""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from opentelemetry.exporter.tracengent import (
    DropReason,
    TracengentSpanExporter,
)
from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent import environment_variables as env
from opentelemetry.exporter.tracengent.errors import TracengentConfigError
from opentelemetry.exporter.tracengent.exporter import MAX_BODY_BYTES
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, dumps_compact
from opentelemetry.exporter.tracengent.options import TracengentOptions

from .conftest import FakePlatform, FakeResult, SpanMaker

TRACE = "trc_" + "c" * 48


def actions(make_span: SpanMaker, count: int, **extra: str) -> list[ReadableSpan]:
    """`count` action spans named a0, a1, ..."""
    return [make_span(f"a{i}", {A.EVENT_TYPE: "action", **extra}) for i in range(count)]


def exporter_for(
    options: TracengentOptions, platform: FakePlatform, **changes: int
) -> TracengentSpanExporter:
    """An exporter over the fake platform, with option fields changed."""
    for name, value in changes.items():
        setattr(options, name, value)
    return TracengentSpanExporter(options, platform=platform, stop_event=platform.stop_event)


def test_batches_hold_at_most_max_batch_size_events(
    make_span: SpanMaker, options: TracengentOptions, platform: FakePlatform
) -> None:
    """250 events with max_batch_size 100 go out as 100, 100, 50, in order."""
    exporter = exporter_for(options, platform, max_batch_size=100)
    assert exporter.export(actions(make_span, 250)) is SpanExportResult.SUCCESS
    assert [len(batch) for batch in platform.event_batches] == [100, 100, 50]
    assert [event["name"] for event in platform.events] == [f"a{i}" for i in range(250)]
    assert (exporter.stats.delivered, exporter.dropped_count) == (250, 0)


def test_batches_stay_under_one_mebibyte_of_json(
    make_span: SpanMaker, options: TracengentOptions, platform: FakePlatform
) -> None:
    """Large events split into bodies of at most 1 MiB even below max_batch_size."""
    big = '"' + "x" * 300_000 + '"'
    exporter = exporter_for(options, platform)
    exporter.export(actions(make_span, 10, **{A.INPUT: big}))
    batches = platform.event_batches
    assert len(batches) > 1
    assert all(len(dumps_compact(batch).encode()) <= MAX_BODY_BYTES for batch in batches)
    assert sum(len(batch) for batch in batches) == 10


def test_events_are_posted_before_the_trace_close(
    make_span: SpanMaker, options: TracengentOptions, platform: FakePlatform
) -> None:
    """In one export, the trace close follows every event, even when the root ended first."""
    root = make_span("root", {A.GEN_AI_OPERATION_NAME: "invoke_agent", A.TRACE_ID: TRACE})
    children = actions(make_span, 3, **{A.TRACE_ID: TRACE})
    exporter = exporter_for(options, platform, max_batch_size=2)
    assert exporter.export([root, *children]) is SpanExportResult.SUCCESS
    assert [kind for kind, _ in platform.calls] == ["events", "events", "close"]
    assert exporter.stats.traces_closed == 1


@pytest.mark.parametrize(
    "bad",
    [
        {A.INPUT: "NaN"},
        {A.COST_AMOUNT: math.nan},
        {A.OUTPUT: '{"v": Infinity}'},
        {A.ATTRIBUTES: '{"big": 1e400}'},
        {A.EVENT_DURATION_MS: math.inf},
        {A.INPUT: '{"n": 123456789012345678901234567890, "x": NaN}'},
    ],
)
def test_a_bad_event_is_dropped_alone(
    make_span: SpanMaker,
    options: TracengentOptions,
    platform: FakePlatform,
    bad: dict[str, str | float],
) -> None:
    """An event that cannot be encoded is counted unserializable; its batch-mates are sent."""
    spans = actions(make_span, 2)
    spans.insert(1, make_span("bad", {A.EVENT_TYPE: "action", **bad}))
    exporter = exporter_for(options, platform)
    assert exporter.export(spans) is SpanExportResult.FAILURE
    assert [event["name"] for event in platform.events] == ["a0", "a1"]
    assert exporter.stats.dropped(DropReason.UNSERIALIZABLE) == 1
    assert exporter.dropped_count == 1


def test_permanent_rejection_is_counted(make_span: SpanMaker, options: TracengentOptions) -> None:
    """A batch the platform rejects is counted `rejected` and export reports FAILURE."""
    platform = FakePlatform(
        respond=lambda events: FakeResult(
            0, rejected=len(events), reason="HTTP 422", status_code=422
        )
    )
    exporter = exporter_for(options, platform)
    assert exporter.export(actions(make_span, 4)) is SpanExportResult.FAILURE
    assert exporter.stats.dropped(DropReason.REJECTED) == 4
    assert exporter.stats.delivered == 0


@pytest.mark.parametrize(
    ("reason", "counted_as"),
    [
        ("HTTP 503 after 3 retries", DropReason.RETRIES_EXHAUSTED),
        ("agent disabled", DropReason.AGENT_DISABLED),
    ],
)
def test_failed_delivery_is_counted_by_cause(
    make_span: SpanMaker, options: TracengentOptions, reason: str, counted_as: DropReason
) -> None:
    """Failures are counted `retries_exhausted`, or `agent_disabled` when the agent is disabled."""
    platform = FakePlatform(
        respond=lambda events: FakeResult(1, failed=len(events) - 1, reason=reason, status_code=503)
    )
    exporter = exporter_for(options, platform)
    exporter.export(actions(make_span, 5))
    assert exporter.stats.delivered == 1
    assert exporter.stats.dropped(counted_as) == 4


def test_a_platform_client_that_raises_is_counted_not_propagated(
    make_span: SpanMaker, options: TracengentOptions
) -> None:
    """If the platform client breaks its never-raise promise, the batch is counted, not raised."""

    def explode(events: Sequence[JsonObject]) -> FakeResult:
        raise RuntimeError("bug")

    exporter = exporter_for(options, FakePlatform(respond=explode))
    assert exporter.export(actions(make_span, 3)) is SpanExportResult.FAILURE
    assert exporter.stats.dropped(DropReason.RETRIES_EXHAUSTED) == 3
    assert exporter.stats.internal_errors == 1


def test_spans_after_shutdown_are_counted(
    make_span: SpanMaker, options: TracengentOptions, platform: FakePlatform
) -> None:
    """After shutdown nothing is posted, events and roots are counted `after_shutdown`."""
    exporter = exporter_for(options, platform)
    exporter.shutdown()
    root = make_span("root", {A.GEN_AI_OPERATION_NAME: "invoke_agent"})
    exporter.export([*actions(make_span, 2), root, make_span("db")])
    assert platform.calls == []
    assert exporter.stats.dropped(DropReason.AFTER_SHUTDOWN) == 3
    assert platform.stop_event.is_set()
    assert not platform.closed  # an injected client belongs to its owner


@pytest.mark.parametrize("on_deadline", [DropReason.SHUTDOWN_TIMEOUT, DropReason.RETRIES_EXHAUSTED])
def test_a_passed_deadline_counts_what_it_cut_off(
    make_span: SpanMaker,
    options: TracengentOptions,
    platform: FakePlatform,
    on_deadline: DropReason,
) -> None:
    """Events and closes not sent before the deadline are not posted, counted as asked."""
    exporter = exporter_for(options, platform)
    spans = [*actions(make_span, 3), make_span("r", {A.GEN_AI_OPERATION_NAME: "invoke_agent"})]
    result = exporter.deliver(
        [(span, dict(span.attributes or {})) for span in spans],
        deadline=time.monotonic() - 1,
        on_deadline=on_deadline,
    )
    assert result is SpanExportResult.FAILURE
    assert platform.calls == []
    assert exporter.stats.dropped(on_deadline) == 4


def test_integers_beyond_64_bits_are_still_sent(
    make_span: SpanMaker, options: TracengentOptions, platform: FakePlatform
) -> None:
    """A payload integer orjson cannot encode falls back to json instead of being dropped."""
    exporter = exporter_for(options, platform)
    big = 123456789012345678901234567890
    exporter.export([make_span("a", {A.EVENT_TYPE: "action", A.INPUT: f'{{"n": {big}}}'})])
    assert platform.events[0]["input"] == {"n": big}
    assert exporter.dropped_count == 0


def clear_tracengent_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every variable the exporter could read."""
    for name in vars(env).values():
        if isinstance(name, str) and name.isupper():
            monkeypatch.delenv(name, raising=False)


def test_unconfigured_exporter_warns_once_and_counts(
    make_span: SpanMaker, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Without options or env the exporter warns naming what to set, then counts events."""
    clear_tracengent_env(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="tracengent"):
        exporter = TracengentSpanExporter()
        spans = [
            *actions(make_span, 3),
            make_span("db"),
            make_span("r", {A.GEN_AI_OPERATION_NAME: "invoke_agent"}),
        ]
        exporter.export(spans)
        exporter.export(spans)
    assert not exporter.configured
    assert exporter.stats.dropped(DropReason.NOT_CONFIGURED) == 6
    warnings = [record.getMessage() for record in caplog.records]
    assert sum("not configured" in message for message in warnings) == 1
    assert any(env.TRACENGENT_AGENT_ID in message for message in warnings)


def test_env_options_fall_back_to_the_service_name(
    make_span: SpanMaker, monkeypatch: pytest.MonkeyPatch, platform: FakePlatform
) -> None:
    """From the environment, the agent id falls back to OTEL_SERVICE_NAME."""
    clear_tracengent_env(monkeypatch)
    monkeypatch.setenv(env.OTEL_SERVICE_NAME, "checkout-service")
    monkeypatch.setenv(env.TRACENGENT_INGEST_KEY, "agk_env")
    exporter = TracengentSpanExporter(platform=platform)
    exporter.export(actions(make_span, 1))
    assert exporter.options is not None
    assert platform.events[0]["agentId"] == "checkout-service"


def test_explicit_invalid_options_raise() -> None:
    """Options passed in code fail fast, naming the field."""
    with pytest.raises(TracengentConfigError, match="agent_id"):
        TracengentSpanExporter(TracengentOptions(ingest_key="agk_x"))


def test_keyword_settings_win_over_the_environment_which_fills_the_rest(
    make_span: SpanMaker, monkeypatch: pytest.MonkeyPatch, platform: FakePlatform
) -> None:
    """Settings by name (a declarative file's `tracengent:` mapping) over `TRACENGENT_*`; an
    empty one (None) leaves the variable's value."""
    clear_tracengent_env(monkeypatch)
    monkeypatch.setenv(env.TRACENGENT_INGEST_KEY, "agk_env")
    monkeypatch.setenv(env.TRACENGENT_ENVIRONMENT, "staging")
    monkeypatch.setenv(env.TRACENGENT_AGENT_ID, "env-agent")
    exporter = TracengentSpanExporter(
        platform=platform,
        agent_id="file-agent",
        default_tags=["from-file"],
        max_batch_size=2,
        environment=None,
    )
    exporter.export(actions(make_span, 3))
    options = exporter.options
    assert options is not None
    assert (options.agent_id, options.ingest_key, options.max_batch_size) == (
        "file-agent",
        "agk_env",
        2,
    )
    assert [len(batch) for batch in platform.event_batches] == [2, 1]
    assert platform.events[0]["agentId"] == "file-agent"
    assert platform.events[0]["tags"] == ["staging", "from-file"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"capture_payloads": False}, "set TRACENGENT_CAPTURE_PAYLOADS instead"),
        ({"governed_hosts": ["api.example"]}, "set TRACENGENT_GOVERNED_HOSTS instead"),
        ({"scrub_patterns": ["*pin*"]}, "set TRACENGENT_SCRUB_PATTERNS instead"),
        ({"queue_capacity": 5}, "the span processor around the exporter"),
        ({"approval_timeout_s": 5.0}, "governs tool calls, not their export"),
        ({"endpoint": "http://x"}, "unknown exporter setting 'endpoint': known are"),
        ({"max_batch_size": "10"}, "max_batch_size must be a positive integer"),
        ({"default_tags": "a,b"}, "default_tags must be a list of strings"),
    ],
)
def test_keyword_settings_outside_the_exporters_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any], message: str
) -> None:
    """A setting the exporter does not own, or an invalid one, raises naming it (and where the
    process-wide ones are set): never silently ignored."""
    clear_tracengent_env(monkeypatch)
    monkeypatch.setenv(env.TRACENGENT_INGEST_KEY, "agk_env")
    monkeypatch.setenv(env.TRACENGENT_AGENT_ID, "env-agent")
    with pytest.raises(TracengentConfigError, match=re.escape(message)):
        TracengentSpanExporter(**settings)


def test_options_and_keyword_settings_together_are_refused(options: TracengentOptions) -> None:
    """Two sources for one exporter: which would win is not guessed."""
    with pytest.raises(TracengentConfigError, match="not both"):
        TracengentSpanExporter(options, agent_id="other")


def test_entry_point_names_the_exporter() -> None:
    """`OTEL_TRACES_EXPORTER=tracengent` resolves to TracengentSpanExporter."""
    (point,) = [
        p for p in entry_points(group="opentelemetry_traces_exporter") if p.name == "tracengent"
    ]
    assert point.load() is TracengentSpanExporter


def test_interrupt_sets_the_platform_stop_event(
    options: TracengentOptions, platform: FakePlatform
) -> None:
    """`interrupt()` wakes the platform client's backoff through the shared stop event."""
    exporter = exporter_for(options, platform)
    waiter = threading.Thread(target=platform.stop_event.wait, args=(30,))
    waiter.start()
    exporter.interrupt()
    waiter.join(timeout=30)
    assert not waiter.is_alive()


def test_the_package_exports_the_delivery_surface() -> None:
    """The exporter distribution re-exports the exporter, processor and counters."""
    import opentelemetry.exporter.tracengent as package

    assert {
        "DeliveryStats",
        "DropReason",
        "TracengentSpanExporter",
        "TracengentSpanProcessor",
    } <= set(package.__all__)


def test_a_failed_trace_close_is_counted(make_span: SpanMaker, options: TracengentOptions) -> None:
    """A trace close the platform could not take is counted like an event."""
    platform = FakePlatform(block=True)
    platform.stop_event.set()
    exporter = exporter_for(options, platform)
    exporter.export([make_span("r", {A.GEN_AI_OPERATION_NAME: "invoke_agent"})])
    assert exporter.stats.traces_closed == 0
    assert exporter.stats.dropped(DropReason.SHUTDOWN_TIMEOUT) == 1


@pytest.mark.parametrize("on_deadline", [DropReason.SHUTDOWN_TIMEOUT, DropReason.RETRIES_EXHAUSTED])
def test_retries_cut_short_by_the_deadline_are_counted_as_the_deadline_says(
    make_span: SpanMaker, options: TracengentOptions, on_deadline: DropReason
) -> None:
    """A 503 whose next retry would wait past the deadline ends the call before the deadline
    itself: what it drops is counted with the deadline's reason (`shutdown_timeout` in a
    shutdown's last drain), not as retries exhausted."""
    answered: list[str] = []

    def unavailable(request: httpx.Request) -> httpx.Response:
        answered.append(request.url.path)
        return httpx.Response(503)

    exporter = TracengentSpanExporter(options, transport=httpx.MockTransport(unavailable))
    try:
        span = make_span("a", {A.EVENT_TYPE: "action"})
        # 0.1 s left: the first retry's wait (0.2 s or more) would pass it.
        result = exporter.deliver(
            [(span, dict(span.attributes or {}))],
            deadline=time.monotonic() + 0.1,
            on_deadline=on_deadline,
        )
        assert result is SpanExportResult.FAILURE
        assert answered == ["/v1/ingest/events"]
        assert exporter.stats.dropped(on_deadline) == 1
        assert exporter.dropped_count == 1
    finally:
        exporter.shutdown()
