"""Another package's configurator built the SDK (with our exporter, from
`OTEL_TRACES_EXPORTER=tracengent`), and the agent also makes a `TracengentClient`: each event is
still sent once, through one export per agent.

Each test runs the real `opentelemetry-instrument` against the local platform.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.loopback import json_reply, serve
from tests.zero_code.conftest import platform_environment, run_instrumented
from tests.zero_code.test_zero_code_review import (
    _CLIENT_AGENT,
    _other_configurator,
    _run_script,
    _write,
)
from tracengent.testing import RunningPlatform


def test_client_for_the_environments_agent_shares_the_other_configurators_export(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """A client for demo-agent: its three events and its trace close reach the platform once,
    not once through the client's export and again through the exporter the other configurator
    put on the provider."""
    environment = platform_environment(
        tracengent_platform, PYTHONPATH=_other_configurator(tmp_path)
    )
    run = run_instrumented("client_agent.py", [], environment)
    assert run.returncode == 0, run.stderr
    assert "Configuration of tracengent not loaded" in run.stderr, "ours ran: nothing was tested"
    counters = tracengent_platform.store.counters()
    assert set(counters) == {"demo-agent"}, counters
    assert counters["demo-agent"].events_received == 3
    assert counters["demo-agent"].duplicates_ignored == 0
    assert counters["demo-agent"].trace_closes_received == 1


def test_client_for_another_agent_sends_alone_beside_the_other_configurators_export(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """A client for hotel-agent: its event and close go out with its own credentials only,
    nothing of it through the environment's demo-agent export."""
    environment = platform_environment(
        tracengent_platform, PYTHONPATH=_other_configurator(tmp_path)
    )
    script = _write(tmp_path / "client_agent.py", _CLIENT_AGENT)
    args = [tracengent_platform.url, "hotel-agent", "key_hotel", "ags_hotel"]
    run = _run_script(script, args, environment)
    assert run.returncode == 0, run.stderr
    assert "Configuration of tracengent not loaded" in run.stderr, "ours ran: nothing was tested"
    counters = tracengent_platform.store.counters()
    assert set(counters) == {"hotel-agent"}, counters
    assert counters["hotel-agent"].events_received == 1
    assert counters["hotel-agent"].trace_closes_received == 1


def test_tracengent_disabled_sends_nothing_when_another_configurator_built_our_exporter(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """TRACENGENT_DISABLED=true with OTEL_TRACES_EXPORTER=tracengent: the exporter the other
    configurator built from it posts nothing (no trace close either), and the agent runs."""
    environment = platform_environment(
        tracengent_platform, TRACENGENT_DISABLED="true", PYTHONPATH=_other_configurator(tmp_path)
    )
    with serve(lambda _: json_reply({})) as tools:
        run = run_instrumented("httpx_agent.py", [tools.url, "/a"], environment)
    assert run.returncode == 0, run.stderr
    assert "Configuration of tracengent not loaded" in run.stderr, "ours ran: nothing was tested"
    assert tools.paths() == ["/a"]
    assert tracengent_platform.store.counters() == {}
