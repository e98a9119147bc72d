"""Zero code beside the OTel settings and pipelines an application already has.

Each test runs the real `opentelemetry-instrument` against the local platform.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from tests.support.loopback import json_reply, serve
from tests.zero_code.conftest import platform_environment, run_instrumented, traces_json
from tests.zero_code.test_zero_code_review import _NO_CONFIGURATOR, _other_configurator
from tracengent.testing import RunningPlatform


def test_service_name_from_resource_attributes_is_the_agent_id(
    tracengent_platform: RunningPlatform,
) -> None:
    """`service.name` in OTEL_RESOURCE_ATTRIBUTES names the agent, as OTEL_SERVICE_NAME does."""
    environment = platform_environment(
        tracengent_platform,
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment=prod,service.name=demo%2Dagent",
    )
    del environment["TRACENGENT_AGENT_ID"]
    with serve(lambda _: json_reply({})) as tools:
        run = run_instrumented("httpx_agent.py", [tools.url, "/a"], environment)
    assert run.returncode == 0, run.stderr
    assert "not configured" not in run.stderr, run.stderr
    (trace,) = traces_json(tracengent_platform)["traces"]
    assert trace["agentId"] == "demo-agent"


def test_otel_service_name_wins_over_the_resource_attribute(
    tracengent_platform: RunningPlatform,
) -> None:
    """Both set: OTEL_SERVICE_NAME is the service name (OTel's precedence), so the agent id."""
    environment = platform_environment(
        tracengent_platform,
        OTEL_SERVICE_NAME="demo-agent",
        OTEL_RESOURCE_ATTRIBUTES="service.name=other-service",
    )
    del environment["TRACENGENT_AGENT_ID"]
    with serve(lambda _: json_reply({})) as tools:
        run = run_instrumented("httpx_agent.py", [tools.url, "/a"], environment)
    assert run.returncode == 0, run.stderr
    (trace,) = traces_json(tracengent_platform)["traces"]
    assert trace["agentId"] == "demo-agent"


def test_events_stay_in_their_trace_when_another_configurator_won(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """Another configurator (opentelemetry-distro's, say) built the SDK with our exporter from
    OTEL_TRACES_EXPORTER=tracengent: the tool calls are still events of the decision trace (not
    standalone), and one warning says Tracengent's configurator did not run."""
    environment = platform_environment(
        tracengent_platform, PYTHONPATH=_other_configurator(tmp_path)
    )
    with serve(lambda _: json_reply({})) as tools:
        run = run_instrumented("httpx_agent.py", [tools.url, "/a", "/b"], environment)
    assert run.returncode == 0, run.stderr
    assert "Configuration of tracengent not loaded" in run.stderr, "ours ran: nothing was tested"
    assert run.stderr.count(_NO_CONFIGURATOR) == 1, run.stderr
    stored = traces_json(tracengent_platform)
    assert stored["standaloneEvents"] == []
    (trace,) = stored["traces"]
    assert trace["rootRequest"] == "refund order 42"
    first, second = cast(list[dict[str, object]], trace["events"])
    assert second["parentEventId"] == first["eventId"]
