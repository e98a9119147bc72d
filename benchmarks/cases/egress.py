"""Case 5: HTTP egress on loopback — plain httpx, a tracked request, a governed request.

All the clients GET `/ok` from the sink process; the governed one first asks the sink's
`/v1/tool-authorize` (the Tracengent client's platform is the sink too, so the authorization is a
real loopback round trip). A governed request cannot cost less than two plain round trips; its
goal is that floor (twice the plain median of the same rounds) plus 50 µs.

For reference (no goal), the same request recorded the bare OpenTelemetry way: a client
instrumented by `opentelemetry-instrumentation-httpx` on an SDK provider with a
`BatchSpanProcessor` and a discarding exporter, in the same rounds.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from benchmarks._context import RunContext, compare
from benchmarks._report import Figure, Goal
from benchmarks._runner import interleave
from benchmarks._sink_process import SinkProcess

__all__ = ["run"]

CASE = "5 egress"
_TRACKED_GOAL = Goal("ratio_max", 1.15, "<= 1.15x plain")
_GOVERNED_SLACK_NS = 50_000.0


def run(ctx: RunContext) -> list[Figure]:
    """Per-request wall time of tracked and governed requests beside plain httpx."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from benchmarks import _sdk
    from benchmarks._baseline import DiscardingExporter
    from tracengent import TracengentClient, governed_client, tracked_client

    count = ctx.scaled(200, 10)
    # More rounds than the other cases: a loopback round trip on this machine varies by several
    # percent from one round to the next, more than the tracked request's distance to its goal.
    rounds = ctx.scaled(31, 3)
    with SinkProcess() as sink:
        client = TracengentClient(_sdk.bench_options(sink.url))
        plain = httpx.Client()
        tracked = tracked_client(client)
        governed = governed_client(client)
        otel_provider = TracerProvider()
        otel_provider.add_span_processor(BatchSpanProcessor(DiscardingExporter()))
        otel = httpx.Client()
        HTTPXClientInstrumentor.instrument_client(otel, tracer_provider=otel_provider)
        url = f"{sink.url}/ok"

        def requests(http: httpx.Client) -> Callable[[], int]:
            def sample() -> int:
                for _ in range(count):
                    http.get(url).raise_for_status()
                return count

            return sample

        variants = {
            "plain": requests(plain),
            "tracked": requests(tracked),
            "governed": requests(governed),
            "otel": requests(otel),
        }
        try:
            sink.reset()
            results = interleave(variants, clock="wall", rounds=rounds, warmup_rounds=1)
            authorized = sink.stats()["authorize_requests"]
            tracked_figure = compare(
                CASE,
                "tracked request",
                results["tracked"],
                results["plain"],
                "plain httpx",
                unit="ns/request",
            )
            tracked_figure.goal = _TRACKED_GOAL
            floor = 2 * results["plain"].median
            governed_figure = compare(
                CASE,
                "governed request",
                results["governed"],
                results["plain"],
                "plain httpx",
                unit="ns/request",
            )
            governed_figure.goal = Goal(
                "value_max",
                floor + _GOVERNED_SLACK_NS,
                f"<= 2x plain + 50us ({floor / 1000 + 50:.0f}us)",
            )
            governed_figure.extra = {"authorize_requests_at_sink": float(authorized)}
            reference = compare(
                CASE,
                "reference: OTel httpx instrumentation",
                results["otel"],
                results["plain"],
                "plain httpx",
                unit="ns/request",
            )
            return [
                ctx.judge_and_profile(tracked_figure, variants["tracked"]),
                ctx.judge_and_profile(governed_figure, variants["governed"]),
                ctx.judge_and_profile(reference, None),
            ]
        finally:
            for http in (plain, tracked, governed, otel):
                http.close()
            client.close()
            otel_provider.shutdown()
