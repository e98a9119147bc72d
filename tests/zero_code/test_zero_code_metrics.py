"""Zero code: Tracengent's delivery as OTel's SDK self-observability metrics, through the real
`opentelemetry-instrument`'s OTLP metrics pipeline to a loopback collector."""

from __future__ import annotations

from tests.support.loopback import LoopbackServer, json_reply, serve
from tests.support.otlp_receiver import otlp_receiver, received_sums
from tests.zero_code.conftest import platform_environment, run_instrumented, traces_json
from tracengent.testing import RunningPlatform

_Sums = dict[frozenset[tuple[str, str]], int]


def _metrics_environment(
    platform: RunningPlatform, collector: LoopbackServer, **extra: str
) -> dict[str, str]:
    """Zero code against `platform`, the SDK's self-observability metrics on, exported by OTLP
    to `collector` (`extra` paces the export)."""
    return platform_environment(
        platform,
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
        OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED="true",
        **extra,
    )


def _of_component(sums: _Sums, component_type: str) -> _Sums:
    """The series of `sums` that `component_type` (`otel.component.type`) reported."""
    return {
        attributes: value
        for attributes, value in sums.items()
        if ("otel.component.type", component_type) in attributes
    }


def test_delivered_events_reach_the_users_metrics_pipeline(
    tracengent_platform: RunningPlatform,
) -> None:
    """With `OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=true` the application's collector gets
    `otel.sdk.exporter.span.exported` for Tracengent's exporter (the platform as its server)
    and `otel.sdk.processor.span.processed` for its processor, counting the delivered events;
    `OTEL_BSP_*` size and pace that processor."""
    host, port = tracengent_platform.url.removeprefix("http://").split(":")
    with otlp_receiver() as collector, serve(lambda _: json_reply({})) as tools:
        environment = _metrics_environment(
            tracengent_platform,
            collector,
            OTEL_METRIC_EXPORT_INTERVAL="100",
            # The batching processor's standard variables size Tracengent's.
            OTEL_BSP_SCHEDULE_DELAY="100",
            OTEL_BSP_MAX_QUEUE_SIZE="777",
        )
        # The pause outlasts the export's schedule, inside the trace: the events are delivered
        # (and the metrics collected) while the agent still runs.
        run = run_instrumented("httpx_agent.py", [tools.url, "/a", "/b", "sleep:1"], environment)
        exported = received_sums(collector, "otel.sdk.exporter.span.exported")
        processed = received_sums(collector, "otel.sdk.processor.span.processed")
        capacity = received_sums(collector, "otel.sdk.processor.span.queue.capacity")
    assert run.returncode == 0, run.stderr
    (trace,) = traces_json(tracengent_platform)["traces"]
    assert len(trace["events"]) == 2  # type: ignore[arg-type]
    ((attributes, value),) = _of_component(exported, "tracengent_span_exporter").items()
    # The two events, then the decision trace's root (its trace close) at exit.
    assert value == 3
    assert ("server.address", host) in attributes
    assert ("server.port", port) in attributes
    assert not any(key == "error.type" for key, _ in attributes)
    assert list(_of_component(processed, "tracengent_span_processor").values()) == [3]
    assert list(_of_component(capacity, "tracengent_span_processor").values()) == [777]


def test_the_batch_delivered_at_exit_is_in_the_last_metric_export(
    tracengent_platform: RunningPlatform,
) -> None:
    """Nothing is exported while the agent runs (a minute's schedule): its spans go out at
    exit, before OTel's meter provider collects for the last time, so they are counted."""
    with otlp_receiver() as collector, serve(lambda _: json_reply({})) as tools:
        environment = _metrics_environment(
            tracengent_platform,
            collector,
            OTEL_METRIC_EXPORT_INTERVAL="60000",
            OTEL_BSP_SCHEDULE_DELAY="60000",
        )
        run = run_instrumented("httpx_agent.py", [tools.url, "/a", "/b"], environment)
        exported = received_sums(collector, "otel.sdk.exporter.span.exported")
    assert run.returncode == 0, run.stderr
    (trace,) = traces_json(tracengent_platform)["traces"]
    assert len(trace["events"]) == 2  # type: ignore[arg-type]
    # The two events and the root span (its trace close).
    assert list(_of_component(exported, "tracengent_span_exporter").values()) == [3]
