"""Zero code: agents that import nothing of ours, run under the real `opentelemetry-instrument`."""

from __future__ import annotations

from typing import cast

from tests.support.loopback import json_reply, serve
from tests.support.openai_server import COMPLETION_TOKENS, MODEL, PROMPT_TOKENS, openai_server
from tests.support.otlp_receiver import (
    otlp_receiver,
    received_resource_attributes,
    received_spans,
)
from tests.zero_code.conftest import platform_environment, run_instrumented, traces_json
from tracengent.testing import RunningPlatform


def _events(trace: dict[str, object]) -> list[dict[str, object]]:
    return cast(list[dict[str, object]], trace["events"])


def test_httpx_agent_calls_become_tool_call_events(
    tracengent_platform: RunningPlatform, instrumented_env: dict[str, str]
) -> None:
    """Each httpx call inside an invoke_agent span is a chained tool_call event of one trace."""
    with serve(lambda _: json_reply({"quote": 12})) as tools:
        run = run_instrumented(
            "httpx_agent.py", [tools.url, "/quotes/1", "/quotes/2"], instrumented_env
        )
    assert run.returncode == 0, run.stderr
    assert tools.paths() == ["/quotes/1", "/quotes/2"]
    (trace,) = traces_json(tracengent_platform)["traces"]
    assert trace["agentId"] == "demo-agent"
    assert trace["rootRequest"] == "refund order 42"
    assert trace["status"] == "completed"
    first, second = _events(trace)
    assert [first["type"], second["type"]] == ["tool_call", "tool_call"]
    assert str(first["name"]).startswith("GET ")
    assert str(first["name"]).endswith("/quotes/1")
    assert first["rootRequest"] == "refund order 42"
    assert "rootRequest" not in second
    assert second["parentEventId"] == first["eventId"]
    assert first["tags"] == ["zero-code-test"]
    assert cast(dict[str, object], first["attributes"])["statusCode"] == 200


def test_openai_agent_produces_one_llm_call_with_usage(
    tracengent_platform: RunningPlatform, instrumented_env: dict[str, str]
) -> None:
    """The OpenAI instrumentation's chat span is an llm_call event; its own HTTP call is not an event."""
    with openai_server() as llm:
        run = run_instrumented("openai_agent.py", [f"{llm.url}/v1"], instrumented_env)
    assert run.returncode == 0, run.stderr
    assert "Refund approved." in run.stdout
    (trace,) = traces_json(tracengent_platform)["traces"]
    (event,) = _events(trace)
    assert event["type"] == "llm_call"
    assert event["usage"] == {"tokens": PROMPT_TOKENS + COMPLETION_TOKENS, "model": MODEL}
    assert trace["rootRequest"] == "answer the customer"


def test_governed_host_is_denied_before_anything_leaves(
    tracengent_platform: RunningPlatform,
) -> None:
    """A call to a governed host the policy does not allow raises in the agent and never reaches the server."""
    environment = platform_environment(tracengent_platform, TRACENGENT_GOVERNED_HOSTS="127.0.0.1")
    with serve(lambda _: json_reply({"ok": True})) as tools:
        run = run_instrumented("httpx_agent.py", [tools.url, "post:/v1/refunds"], environment)
    assert run.returncode == 0, run.stderr
    assert "ToolDeniedException" in run.stdout
    assert tools.received == []
    denied = [d for d in tracengent_platform.store.decisions() if d.status == "denied"]
    assert denied, "the platform recorded no denied decision"


def test_otlp_and_tracengent_exporters_see_the_same_trace(
    tracengent_platform: RunningPlatform,
) -> None:
    """With OTEL_TRACES_EXPORTER=otlp,tracengent the user's collector and Tracengent share trace ids."""
    with otlp_receiver() as collector, serve(lambda _: json_reply({})) as tools:
        environment = platform_environment(
            tracengent_platform,
            OTEL_TRACES_EXPORTER="otlp,tracengent",
            OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
        )
        run = run_instrumented("httpx_agent.py", [tools.url, "/a"], environment)
        otel_spans = received_spans(collector)
    assert run.returncode == 0, run.stderr
    (trace,) = traces_json(tracengent_platform)["traces"]
    root_trace_ids = {
        trace_id for trace_id, name in otel_spans if name == "invoke_agent refund-bot"
    }
    assert len(root_trace_ids) == 1
    (otel_trace_id,) = root_trace_ids
    assert otel_trace_id in str(trace["traceId"])


def test_sdk_disabled_sends_nothing_and_the_agent_runs(
    tracengent_platform: RunningPlatform,
) -> None:
    """OTEL_SDK_DISABLED=true: the agent's calls go through and the platform stores nothing."""
    environment = platform_environment(tracengent_platform, OTEL_SDK_DISABLED="true")
    with serve(lambda _: json_reply({})) as tools:
        run = run_instrumented("httpx_agent.py", [tools.url, "/a"], environment)
    assert run.returncode == 0, run.stderr
    assert tools.paths() == ["/a"]
    assert traces_json(tracengent_platform) == {"traces": [], "standaloneEvents": []}


def test_bad_settings_warn_once_and_the_agent_runs(
    tracengent_platform: RunningPlatform,
) -> None:
    """A missing client secret prints one clear warning; the agent still does its work."""
    environment = platform_environment(tracengent_platform)
    del environment["TRACENGENT_CLIENT_SECRET"]
    with serve(lambda _: json_reply({})) as tools:
        run = run_instrumented("httpx_agent.py", [tools.url, "/a"], environment)
    assert run.returncode == 0, run.stderr
    assert tools.paths() == ["/a"]
    assert run.stderr.count("tracengent: not configured") == 1, run.stderr
    assert "client_secret" in run.stderr
    assert traces_json(tracengent_platform) == {"traces": [], "standaloneEvents": []}


def test_client_in_a_zero_code_process_exports_each_event_once(
    tracengent_platform: RunningPlatform, instrumented_env: dict[str, str]
) -> None:
    """A TracengentClient under opentelemetry-instrument reuses the zero-code pipeline: no duplicates."""
    run = run_instrumented("client_agent.py", [], instrumented_env)
    assert run.returncode == 0, run.stderr
    (trace,) = traces_json(tracengent_platform)["traces"]
    assert [e["name"] for e in _events(trace)] == ["look for seats", "search", "rebook"]
    counters = tracengent_platform.store.counters()["demo-agent"]
    assert counters.events_received == 3
    assert counters.duplicates_ignored == 0


def test_otel_service_name_is_the_agent_id_when_none_is_set(
    tracengent_platform: RunningPlatform,
) -> None:
    """Without TRACENGENT_AGENT_ID, OTEL_SERVICE_NAME names the agent the trace is recorded under."""
    environment = platform_environment(tracengent_platform, OTEL_SERVICE_NAME="demo-agent")
    del environment["TRACENGENT_AGENT_ID"]
    with serve(lambda _: json_reply({})) as tools:
        run = run_instrumented("httpx_agent.py", [tools.url, "/a"], environment)
    assert run.returncode == 0, run.stderr
    (trace,) = traces_json(tracengent_platform)["traces"]
    assert trace["agentId"] == "demo-agent"


def test_decision_traces_survive_an_always_off_sampler(
    tracengent_platform: RunningPlatform,
) -> None:
    """OTEL_TRACES_SAMPLER=always_off drops other spans, never a decision trace."""
    environment = platform_environment(tracengent_platform, OTEL_TRACES_SAMPLER="always_off")
    with serve(lambda _: json_reply({})) as tools:
        run = run_instrumented("httpx_agent.py", [tools.url, "/a", "/b"], environment)
    assert run.returncode == 0, run.stderr
    (trace,) = traces_json(tracengent_platform)["traces"]
    assert len(_events(trace)) == 2


def test_disabled_egress_instrumentation_is_honoured(tracengent_platform: RunningPlatform) -> None:
    """OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=tracengent_httpx leaves httpx ungated, as asked."""
    environment = platform_environment(
        tracengent_platform,
        TRACENGENT_GOVERNED_HOSTS="127.0.0.1",
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="tracengent_httpx",
    )
    with serve(lambda _: json_reply({})) as tools:
        run = run_instrumented("httpx_agent.py", [tools.url, "post:/v1/refunds"], environment)
    assert run.returncode == 0, run.stderr
    assert "ToolDeniedException" not in run.stdout
    assert tools.paths() == ["/v1/refunds"]


def test_resource_attributes_reach_the_users_collector(
    tracengent_platform: RunningPlatform,
) -> None:
    """OTEL_RESOURCE_ATTRIBUTES is on the resource the user's OTLP collector receives."""
    with otlp_receiver() as collector, serve(lambda _: json_reply({})) as tools:
        environment = platform_environment(
            tracengent_platform,
            OTEL_TRACES_EXPORTER="otlp,tracengent",
            OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
            OTEL_RESOURCE_ATTRIBUTES="deployment.environment=zero-code-test,team=agents",
        )
        run = run_instrumented("httpx_agent.py", [tools.url, "/a"], environment)
        resource = received_resource_attributes(collector)
    assert run.returncode == 0, run.stderr
    assert resource["deployment.environment"] == "zero-code-test"
    assert resource["team"] == "agents"
