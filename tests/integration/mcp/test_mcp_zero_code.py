"""Zero code: an MCP agent under the real `opentelemetry-instrument`, against the local platform.

Nothing in the agent mentions Tracengent: the distro's configurator, the `tracengent_mcp`
instrumentor entry point and the `tracengent_mcp_hooks` factory do everything.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.integration.mcp.conftest import ServerRecord
from tests.zero_code.conftest import platform_environment, traces_json
from tracengent.testing import RunningPlatform

AGENT = Path(__file__).with_name("zero_code_agent.py")
_BIN = Path(sys.executable).parent


def run_agent(environment: dict[str, str], record: ServerRecord, *calls: str) -> str:
    """Run the agent under `opentelemetry-instrument`; its stdout (it must exit 0)."""
    completed = subprocess.run(
        [
            str(_BIN / "opentelemetry-instrument"),
            sys.executable,
            str(AGENT),
            str(record.path),
            *calls,
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def listed_events(listed: dict[str, object]) -> list[dict[str, object]]:
    """The events of one trace as `tracengent traces --json` printed them."""
    events = listed["events"]
    assert isinstance(events, list)
    return [e for e in events if isinstance(e, dict)]


def test_zero_code_agent_is_traced_and_governed(
    tracengent_platform: RunningPlatform, record: ServerRecord
) -> None:
    """Allowed call made and traced, denied call refused; one tool_call event per call."""
    environment = platform_environment(tracengent_platform, TRACENGENT_GOVERN_MCP="true")
    printed = run_agent(
        environment,
        record,
        'search_flights={"origin": "PAR", "destination": "NYC"}',
        'delete_account={"user": "u-1"}',
    )
    assert "search_flights -> 3 flights PAR->NYC" in printed
    assert "delete_account -> ToolDeniedException" in printed

    (listed,) = traces_json(tracengent_platform)["traces"]
    (call,) = record.calls()
    assert call["tool"] == "search_flights"
    # The Tracengent trace id embeds the OTel trace id the server joined.
    assert isinstance(call["joined_trace_id"], str)
    assert str(listed["traceId"]).startswith(f"trc_{call['joined_trace_id']}")
    tool_calls = [e for e in listed_events(listed) if e["type"] == "tool_call"]
    assert [(e["name"], e["status"]) for e in tool_calls] == [
        ("search_flights", "success"),
        ("delete_account", "failure"),
    ]
    assert tool_calls[0]["input"] == {"origin": "PAR", "destination": "NYC"}


def test_zero_code_without_the_switch_traces_without_governing(
    tracengent_platform: RunningPlatform, record: ServerRecord
) -> None:
    """Without TRACENGENT_GOVERN_MCP every call is made (and traced), the platform not asked."""
    run_agent(platform_environment(tracengent_platform), record, 'delete_account={"user": "u-2"}')
    assert [c["tool"] for c in record.calls()] == ["delete_account"]
    assert tracengent_platform.store.decisions() == []
    (listed,) = traces_json(tracengent_platform)["traces"]
    assert [e["name"] for e in listed_events(listed)] == ["delete_account"]
