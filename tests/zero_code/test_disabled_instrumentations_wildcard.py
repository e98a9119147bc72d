"""`OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=*` beside another package's configurator.

`*` makes `opentelemetry-instrument` load no instrumentation at all, so neither our distro's
`load_instrumentor` nor our egress gate is ever asked: Tracengent's completion of the other
configurator's provider (decision-trace context, scrubbing, the routed export, the export taken
off under `TRACENGENT_DISABLED`) must not hang on them. Disabling instrumentations leaves
Tracengent's own pipeline as it is; the gates, being instrumentations, are off, and a warning says
so when governance was asked for.

Each test runs the real `opentelemetry-instrument` against the local platform.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from tests.zero_code.conftest import Run, platform_environment, traces_json
from tests.zero_code.test_zero_code_review import (
    _NO_CONFIGURATOR,
    _other_configurator,
    _run_script,
    _write,
)
from tracengent.testing import RunningPlatform

_OTHER_WON = "Configuration of tracengent not loaded"

# No instrumentation runs under `*`: the agent's tool calls are GenAI `execute_tool` spans of
# its own, as an agent framework's would be.
_TOOL_AGENT = """
from opentelemetry import trace

tracer = trace.get_tracer("sample-agent")
with tracer.start_as_current_span(
    "invoke_agent refund-bot",
    attributes={
        "gen_ai.operation.name": "invoke_agent",
        "tracengent.trace.root_request": "refund order 42",
    },
):
    for tool in ("lookup_order", "issue_refund"):
        with tracer.start_as_current_span(
            f"execute_tool {tool}",
            attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool},
        ):
            pass
print("done")
"""


def _run(platform: RunningPlatform, tmp_path: Path, **extra: str) -> Run:
    environment = platform_environment(
        platform,
        PYTHONPATH=_other_configurator(tmp_path),
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="*",
        **extra,
    )
    run = _run_script(_write(tmp_path / "tool_agent.py", _TOOL_AGENT), [], environment)
    assert run.returncode == 0, run.stderr
    assert "done" in run.stdout, run.stdout
    assert _OTHER_WON in run.stderr, "ours ran: nothing was tested"
    return run


def test_events_stay_in_their_trace_when_every_instrumentation_is_disabled(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """The other configurator built our exporter from OTEL_TRACES_EXPORTER=tracengent: the tool
    spans are events of the decision trace, not standalone, and one warning says Tracengent's
    configurator did not run."""
    run = _run(tracengent_platform, tmp_path)
    assert run.stderr.count(_NO_CONFIGURATOR) == 1, run.stderr
    stored = traces_json(tracengent_platform)
    assert stored["standaloneEvents"] == []
    (trace,) = stored["traces"]
    assert trace["rootRequest"] == "refund order 42"
    events = cast(list[dict[str, object]], trace["events"])
    assert [(event["type"], event["name"]) for event in events] == [
        ("tool_call", "lookup_order"),
        ("tool_call", "issue_refund"),
    ]


def test_tracengent_disabled_sends_nothing_when_every_instrumentation_is_disabled(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """TRACENGENT_DISABLED=true: the exporter the other configurator built posts nothing."""
    _run(tracengent_platform, tmp_path, TRACENGENT_DISABLED="true")
    assert tracengent_platform.store.counters() == {}


def test_governance_asked_for_but_disabled_with_every_instrumentation_is_announced(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """`*` disables the egress gate with the rest (it is an instrumentation), so requests to the
    governed hosts go out unauthorized, as asked; one warning says so, and the trace is still
    exported."""
    run = _run(tracengent_platform, tmp_path, TRACENGENT_GOVERNED_HOSTS="127.0.0.1")
    warnings = [line for line in run.stderr.splitlines() if "TRACENGENT_GOVERNED_HOSTS" in line]
    assert len(warnings) == 1, run.stderr
    assert "tracengent_httpx" in warnings[0]
    assert "not authorized" in warnings[0]
    (trace,) = traces_json(tracengent_platform)["traces"]
    assert trace["rootRequest"] == "refund order 42"
