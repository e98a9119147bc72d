"""Case 3: the exporter's span batch → wire events → gzipped body, on one core.

A batch of 100 real finished event spans (20 of each operation, stamped by our processors) is
captured once, then exported again and again through `TracengentSpanExporter.export` into an
in-memory platform: one that only counts (translation and each event's JSON encoding) and one
that also makes the request body exactly as the platform client does (the exporter's
`EncodedBatch` through `_http_policy.encode_json_body`, the production function: the events'
JSON joined, then gzipped). The baseline is OTLP's own encoding of the same spans
(`encode_spans`, then protobuf serialization and gzip at the same level).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Sequence

from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from benchmarks._context import RunContext, compare
from benchmarks._report import Figure, Goal
from benchmarks._runner import Spread, interleave

__all__ = ["run"]

CASE = "3 serialization"
_BATCH = 100
_TRANSLATE_GOAL = Goal("value_max", 2500.0, "<= 2500 ns/span")
_THROUGHPUT_GOAL = Goal("value_min", 250_000.0, ">= 250k events/s")
_GZIP_GOAL = Goal("value_max", 6.0, "<= 6")
_EVENT_TYPE = "tracengent.event.type"


class _Capture(SpanProcessor):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing at start."""

    def on_end(self, span: ReadableSpan) -> None:
        """Keep event spans."""
        if span.attributes and _EVENT_TYPE in span.attributes:
            self.spans.append(span)


def _capture_batch() -> list[ReadableSpan]:
    from benchmarks import _sdk

    capture = _Capture()
    client = _sdk.new_client(_sdk.MockPlatform())
    try:
        client.tracer_provider.add_span_processor(capture)
        with client.begin_trace("bench serialization", actor_user_id="u_7") as trace:
            _sdk.mixed_events(trace, _BATCH)
    finally:
        client.close()
    return capture.spans[:_BATCH]


def _per_second(spread: Spread) -> Spread:
    """ns per event → events per second (quartiles swap places)."""
    return Spread(
        1e9 / spread.median,
        1e9 / spread.p75,
        1e9 / spread.p25,
        1e9 / spread.high,
        1e9 / spread.low,
        spread.samples,
    )


def run(ctx: RunContext) -> list[Figure]:
    """Translation alone (ns/span), the whole path (events/s), and the gzip level in use."""
    from benchmarks._sdk import bench_options
    from opentelemetry.exporter.tracengent import _http_policy
    from opentelemetry.exporter.tracengent.exporter import TracengentSpanExporter
    from opentelemetry.exporter.tracengent.jsonvalue import EncodedBatch, JsonObject, JsonValue
    from opentelemetry.exporter.tracengent.transport import DeliveryResult

    options = bench_options()
    threshold = options.gzip_threshold_bytes

    class CountingPlatform:
        def __init__(self, encode: bool) -> None:
            self.encode = encode
            self.body_bytes = 0

        def post_events(
            self, events: Sequence[JsonObject], *, deadline: float | None = None
        ) -> DeliveryResult:
            if self.encode:
                # What `PlatformCore.begin_post` does: the exporter's batch carries each event's
                # JSON, encoded once; the body is made from those bytes (then gzipped).
                if isinstance(events, EncodedBatch):
                    body = _http_policy.encode_json_body(events, threshold)
                else:
                    plain: list[JsonValue] = list(events)
                    body = _http_policy.encode_json_body(plain, threshold)
                self.body_bytes += len(body.content)
            return DeliveryResult(len(events), 0, 0, None, 200)

        def post_trace_close(
            self, close: JsonObject, *, deadline: float | None = None
        ) -> DeliveryResult:
            return DeliveryResult(1, 0, 0, None, 200)

        def close(self) -> None:
            """Nothing to close."""

    level = getattr(_http_policy, "_GZIP_LEVEL", None)
    # The baseline compresses at our level, so the ratio compares encodings, not gzip settings.
    otlp_level = level if isinstance(level, int) else 6
    spans = _capture_batch()
    if len(spans) != _BATCH:
        raise RuntimeError(f"captured {len(spans)} event spans, expected {_BATCH}")
    repeats = ctx.scaled(20, 2)
    rounds = ctx.scaled(15, 3)
    translate_only = TracengentSpanExporter(options, platform=CountingPlatform(encode=False))
    encoding = CountingPlatform(encode=True)
    whole_path = TracengentSpanExporter(options, platform=encoding)

    def repeated(work: Callable[[], object]) -> Callable[[], int]:
        def sample() -> int:
            for _ in range(repeats):
                work()
            return repeats * len(spans)

        return sample

    variants = {
        "translate": repeated(lambda: translate_only.export(spans)),
        "whole": repeated(lambda: whole_path.export(spans)),
        "otlp-encode": repeated(lambda: encode_spans(spans)),
        "otlp-whole": repeated(
            lambda: gzip.compress(
                encode_spans(spans).SerializeToString(), compresslevel=otlp_level, mtime=0
            )
        ),
    }
    results = interleave(variants, clock="thread", rounds=rounds, warmup_rounds=1)
    translate = compare(
        CASE,
        "span-to-wire translation",
        results["translate"],
        results["otlp-encode"],
        "OTLP encode_spans",
        unit="ns/span",
    )
    translate.goal = _TRANSLATE_GOAL
    whole_rate = _per_second(results["whole"])
    otlp_rate = _per_second(results["otlp-whole"])
    whole = Figure(
        case=CASE,
        name="translate+serialize+gzip",
        unit="events/s/core",
        value=whole_rate.median,
        spread=whole_rate,
        baseline_name="OTLP proto+gzip",
        baseline_value=otlp_rate.median,
        ratio=whole_rate.median / otlp_rate.median,
        goal=_THROUGHPUT_GOAL,
        note="ratio > 1 is faster than the baseline",
        extra={"ns_per_span": results["whole"].median},
    )
    gzip_level = Figure(
        case=CASE,
        name="gzip level in use",
        unit="level",
        value=float(level) if isinstance(level, int) else float("nan"),
        goal=_GZIP_GOAL,
        available=isinstance(level, int),
        note="" if isinstance(level, int) else "not available: no _GZIP_LEVEL constant",
    )
    return [
        ctx.judge_and_profile(translate, variants["translate"]),
        ctx.judge_and_profile(whole, variants["whole"]),
        ctx.judge_and_profile(gzip_level, None),
    ]
