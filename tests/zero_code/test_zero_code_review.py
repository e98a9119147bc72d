"""Zero code when the set-up is not the usual one: another configurator, a failing OTel setting,
a second agent's client, an entry-point sampler, `TRACENGENT_DISABLED`.

Each test runs the real `opentelemetry-instrument` against the local platform. Agents and fake
distributions (a configurator, a sampler) are written to the test's `tmp_path` and put on
`PYTHONPATH`, the way another installed package would be.
"""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

from tests.support.loopback import json_reply, serve
from tests.zero_code.conftest import Run, platform_environment, run_instrumented, traces_json
from tracengent.testing import RunningPlatform

_NO_CONFIGURATOR = "Tracengent's OpenTelemetry configurator did not run"
_OTEL_FAILED = "OpenTelemetry's SDK configuration failed"

_MCP_AGENT = """
import asyncio

from mcp import Client
from mcp.server.mcpserver import MCPServer
from opentelemetry import trace

server = MCPServer("tools", log_level="WARNING")
received = []


@server.tool()
def search_flights(origin: str) -> str:
    received.append("search_flights")
    return "TP 1"


@server.tool()
def delete_account(user: str) -> str:
    received.append("delete_account")
    return "deleted"


async def main() -> None:
    async with Client(server) as client:
        for name, arguments in [("search_flights", {"origin": "LIS"}), ("delete_account", {"user": "u"})]:
            try:
                result = await client.call_tool(name, arguments)
                print(name, "->", result.content[0].text)
            except Exception as exc:
                print(name, "->", type(exc).__name__)
    print("server received", received)


with trace.get_tracer("agent").start_as_current_span(
    "invoke_agent trip-bot", attributes={"gen_ai.operation.name": "invoke_agent"}
):
    asyncio.run(main())
"""

_CLIENT_AGENT = """
import sys

from tracengent import TracengentClient, TracengentOptions

url, agent_id, client_id, client_secret = sys.argv[1:]
options = TracengentOptions(
    agent_id=agent_id, base_url=url, client_id=client_id, client_secret=client_secret
)
with TracengentClient(options) as client:
    with client.begin_trace("book a room") as trace:
        trace.track_action("book_room", lambda: "ok")
print("done")
"""

_SAMPLED_AGENT = """
from opentelemetry import trace

tracer = trace.get_tracer("agent")
with tracer.start_as_current_span("plain") as span:
    print("plain sampled:", span.get_span_context().trace_flags.sampled)
with tracer.start_as_current_span(
    "invoke_agent bot", attributes={"gen_ai.operation.name": "invoke_agent"}
) as span:
    print("decision trace sampled:", span.get_span_context().trace_flags.sampled)
"""

_ENV_AGENT = """
import os

from opentelemetry import trace

with trace.get_tracer("agent").start_as_current_span(
    "invoke_agent bot", attributes={"gen_ai.operation.name": "invoke_agent"}
):
    print("OTEL_TRACES_EXPORTER =", os.environ.get("OTEL_TRACES_EXPORTER"))
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text).lstrip(), encoding="utf-8")
    return path


def _fake_distribution(site: Path, name: str, module: str, entry_points: str) -> str:
    """Install `module` and a dist-info with `entry_points` under `site`; return `site`."""
    _write(site / f"{name}.py", module)
    dist_info = site / f"{name}-0.1.dist-info"
    _write(dist_info / "METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    _write(dist_info / "entry_points.txt", entry_points)
    return str(site)


def _other_configurator(tmp_path: Path) -> str:
    """A configurator found before ours (as `opentelemetry-distro`'s would be): its PYTHONPATH."""
    return _fake_distribution(
        tmp_path / "other_configurator",
        "other_configurator",
        """
        from opentelemetry.sdk._configuration import _OTelSDKConfigurator


        class OtherConfigurator(_OTelSDKConfigurator):
            pass
        """,
        "[opentelemetry_configurator]\nother = other_configurator:OtherConfigurator\n",
    )


def _run_script(script: Path, args: list[str], environment: dict[str, str]) -> Run:
    # An absolute path replaces the agents folder `run_instrumented` joins it to.
    return run_instrumented(str(script), args, environment)


def test_governed_host_is_gated_when_another_configurator_won(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """Another configurator ran instead of ours: a governed host is still gated, with a warning."""
    environment = platform_environment(
        tracengent_platform,
        TRACENGENT_GOVERNED_HOSTS="127.0.0.1",
        PYTHONPATH=_other_configurator(tmp_path),
    )
    with serve(lambda _: json_reply({})) as tools:
        run = run_instrumented("httpx_agent.py", [tools.url, "post:/v1/refunds"], environment)
    assert run.returncode == 0, run.stderr
    assert "Configuration of tracengent not loaded" in run.stderr, "ours ran: nothing was tested"
    assert "ToolDeniedException" in run.stdout
    assert tools.received == []
    assert [d.status for d in tracengent_platform.store.decisions()] == ["denied"]
    assert run.stderr.count(_NO_CONFIGURATOR) == 1, run.stderr


def test_mcp_calls_are_governed_when_another_configurator_won(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """Another configurator ran instead of ours: TRACENGENT_GOVERN_MCP still asks the platform."""
    environment = platform_environment(
        tracengent_platform,
        TRACENGENT_GOVERN_MCP="true",
        PYTHONPATH=_other_configurator(tmp_path),
    )
    run = _run_script(_write(tmp_path / "mcp_agent.py", _MCP_AGENT), [], environment)
    assert run.returncode == 0, run.stderr
    assert "search_flights -> TP 1" in run.stdout
    assert "delete_account -> ToolDeniedException" in run.stdout
    assert "server received ['search_flights']" in run.stdout
    decisions = tracengent_platform.store.decisions()
    assert sorted(d.status for d in decisions) == ["allowed", "denied"]


def test_governance_and_traces_survive_a_failing_otel_exporter_setting(
    tracengent_platform: RunningPlatform,
) -> None:
    """An exporter OTel cannot load: one warning; the gate still denies, the trace is still sent."""
    environment = platform_environment(
        tracengent_platform,
        OTEL_TRACES_EXPORTER="tracengent,jaeger",
        TRACENGENT_GOVERNED_HOSTS="127.0.0.1",
    )
    with serve(lambda _: json_reply({})) as tools:
        run = run_instrumented("httpx_agent.py", [tools.url, "post:/v1/refunds"], environment)
    assert run.returncode == 0, run.stderr
    assert "ToolDeniedException" in run.stdout
    assert tools.received == []
    assert [d.status for d in tracengent_platform.store.decisions()] == ["denied"]
    assert run.stderr.count(_OTEL_FAILED) == 1, run.stderr
    assert "jaeger" in run.stderr
    assert "Failed to auto initialize" not in run.stderr, run.stderr
    (trace,) = traces_json(tracengent_platform)["traces"]
    assert trace["rootRequest"] == "refund order 42"


def test_zero_code_export_leaves_another_agents_client_alone(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """A client for hotel-agent in a zero-code demo-agent process: nothing reaches demo-agent."""
    script = _write(tmp_path / "client_agent.py", _CLIENT_AGENT)
    args = [tracengent_platform.url, "hotel-agent", "key_hotel", "ags_hotel"]
    run = _run_script(script, args, platform_environment(tracengent_platform))
    assert run.returncode == 0, run.stderr
    counters = tracengent_platform.store.counters()
    assert set(counters) == {"hotel-agent"}, counters
    assert counters["hotel-agent"].events_received == 1
    assert counters["hotel-agent"].trace_closes_received == 1


def test_client_for_the_zero_code_agent_sends_each_event_once(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """A client for demo-agent configured unlike the environment: its events still go out once."""
    script = _write(tmp_path / "client_agent.py", _CLIENT_AGENT)
    args = [tracengent_platform.url, "demo-agent", "key_demo", "ags_demo"]
    # The environment's TRACENGENT_ENVIRONMENT differs from the client's (default) one.
    run = _run_script(script, args, platform_environment(tracengent_platform))
    assert run.returncode == 0, run.stderr
    counters = tracengent_platform.store.counters()["demo-agent"]
    assert counters.events_received == 1
    assert counters.duplicates_ignored == 0
    assert counters.trace_closes_received == 1


def test_sampler_registered_under_an_entry_point_is_used(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """OTEL_TRACES_SAMPLER naming an entry-point sampler is wrapped, not replaced by the default."""
    site = _fake_distribution(
        tmp_path / "sampler_site",
        "drop_all_sampler",
        """
        from opentelemetry.sdk.trace.sampling import ALWAYS_OFF


        def drop_all(argument):
            return ALWAYS_OFF
        """,
        "[opentelemetry_traces_sampler]\ndrop_all = drop_all_sampler:drop_all\n",
    )
    environment = platform_environment(
        tracengent_platform, OTEL_TRACES_SAMPLER="drop_all", PYTHONPATH=site
    )
    run = _run_script(_write(tmp_path / "sampled_agent.py", _SAMPLED_AGENT), [], environment)
    assert run.returncode == 0, run.stderr
    assert "plain sampled: False" in run.stdout
    assert "decision trace sampled: True" in run.stdout
    assert "Couldn't recognize sampler" not in run.stderr, run.stderr


def test_tracengent_disabled_sends_nothing_and_children_keep_the_setting(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """TRACENGENT_DISABLED with OTEL_TRACES_EXPORTER=tracengent: no post; the variable is intact."""
    environment = platform_environment(tracengent_platform, TRACENGENT_DISABLED="true")
    run = _run_script(_write(tmp_path / "env_agent.py", _ENV_AGENT), [], environment)
    assert run.returncode == 0, run.stderr
    assert "OTEL_TRACES_EXPORTER = tracengent" in run.stdout
    assert tracengent_platform.store.counters() == {}
