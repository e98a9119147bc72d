"""Zero code: spans naming an agent of their own are exported, not dropped by the agent filter.

An agent framework's `invoke_agent` root carries its own `gen_ai.agent.id` (an assistant id), and
0.1.0 code records events for sub-agents: zero code's export sends them, with their agent id,
while a client for another agent in the same process still sends its own spans alone.
"""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent
from typing import cast

from tests.zero_code.conftest import platform_environment, run_instrumented, traces_json
from tracengent.testing import RunningPlatform

_AGENT = """
import sys

from opentelemetry import trace

from tracengent import TracengentClient, TracengentOptions

url = sys.argv[1]
hotel = TracengentClient(
    TracengentOptions(
        agent_id="hotel-agent", base_url=url, client_id="key_hotel", client_secret="ags_hotel"
    )
)
tracer = trace.get_tracer("agent-framework")
with tracer.start_as_current_span(
    "invoke_agent refund-bot",
    attributes={
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.id": "asst_abc123",
        "tracengent.trace.root_request": "refund order 42",
    },
):
    with tracer.start_as_current_span(
        "chat gpt-4o",
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.usage.input_tokens": 10,
            "gen_ai.usage.output_tokens": 5,
        },
    ):
        pass
    with tracer.start_as_current_span("refund", attributes={"tracengent.event.type": "action"}):
        pass
with tracer.start_as_current_span(
    "sub-agent note",
    attributes={"tracengent.event.type": "decision", "gen_ai.agent.id": "billing-subagent"},
):
    pass
with hotel.begin_trace("book a room") as booking:
    booking.track_action("book_room", lambda: "ok")
print("closed", hotel.close(timeout=10))
"""


def test_spans_naming_their_own_agent_are_exported_under_zero_code(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """The framework's trace (its close included) and the sub-agent's event reach the platform
    through zero code's export (demo-agent's credentials); hotel-agent's client sends its own."""
    script = tmp_path / "framework_agent.py"
    script.write_text(dedent(_AGENT).lstrip(), encoding="utf-8")
    run = run_instrumented(
        str(script), [tracengent_platform.url], platform_environment(tracengent_platform)
    )
    assert run.returncode == 0, run.stderr
    assert "closed True" in run.stdout, run.stdout
    stored = traces_json(tracengent_platform)
    by_request = {t["rootRequest"]: t for t in stored["traces"]}
    framework = by_request["refund order 42"]
    assert framework["status"] == "completed"
    assert framework["agentId"] == "demo-agent"
    events = cast(list[dict[str, object]], framework["events"])
    assert [e["name"] for e in events] == ["chat gpt-4o", "refund"]
    assert [e["name"] for e in stored["standaloneEvents"]] == ["sub-agent note"]
    assert by_request["book a room"]["agentId"] == "hotel-agent"
    counters = tracengent_platform.store.counters()
    assert counters["demo-agent"].events_received == 3
    assert counters["demo-agent"].trace_closes_received == 1
    assert counters["hotel-agent"].events_received == 1
