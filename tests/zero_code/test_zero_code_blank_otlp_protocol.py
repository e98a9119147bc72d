"""Zero code with `OTEL_EXPORTER_OTLP_PROTOCOL` set but blank (a chart's empty default): blank is
unset, as OTel's environment-variable spec reads it, so the distro's `http/protobuf` default
holds and `otlp` still reaches the collector.

Runs the real `opentelemetry-instrument` against the local platform.
"""

from __future__ import annotations

import pytest

from tests.support.loopback import json_reply, serve
from tests.support.otlp_receiver import otlp_receiver, received_spans
from tests.zero_code.conftest import platform_environment, run_instrumented, traces_json
from tracengent.testing import RunningPlatform


@pytest.mark.parametrize("blank", ["", "  "])
def test_blank_otlp_protocol_defaults_to_http(
    tracengent_platform: RunningPlatform, blank: str
) -> None:
    """OTEL_TRACES_EXPORTER=otlp,tracengent and a blank protocol: the collector gets the spans
    (no failed OTel configuration), and Tracengent the trace."""
    with otlp_receiver() as collector, serve(lambda _: json_reply({})) as tools:
        environment = platform_environment(
            tracengent_platform,
            OTEL_TRACES_EXPORTER="otlp,tracengent",
            OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
            OTEL_EXPORTER_OTLP_PROTOCOL=blank,
        )
        run = run_instrumented("httpx_agent.py", [tools.url, "/a"], environment)
        otel_spans = received_spans(collector)
    assert run.returncode == 0, run.stderr
    assert "configuration failed" not in run.stderr, run.stderr
    assert "invoke_agent refund-bot" in {name for _, name in otel_spans}
    (trace,) = traces_json(tracengent_platform)["traces"]
    assert trace["rootRequest"] == "refund order 42"
