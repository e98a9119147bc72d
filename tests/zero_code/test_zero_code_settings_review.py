"""Zero code with odd settings, and with the application doing some of the set-up in code.

Each test runs the real `opentelemetry-instrument` against the local platform; agents are written
to the test's `tmp_path`.
"""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

from tests.support.loopback import json_reply, serve
from tests.zero_code.conftest import Run, platform_environment, run_instrumented
from tracengent.testing import RunningPlatform

_GATE_IN_CODE_AGENT = """
import sys

import httpx
from opentelemetry.instrumentation.tracengent_httpx import TracengentHTTPXInstrumentor

from tracengent import TracengentClient, TracengentOptions

client = TracengentClient(TracengentOptions.from_env(governed_hosts=["127.0.0.1"]))
TracengentHTTPXInstrumentor().instrument(gate=client.egress_gate(govern_all=False))
try:
    response = httpx.post(sys.argv[1] + "/v1/refunds", json={"order": 42}, timeout=10)
    print("sent", response.status_code)
except Exception as exc:
    print("refused", type(exc).__name__)
client.close()
"""


def _run_script(tmp_path: Path, text: str, args: list[str], environment: dict[str, str]) -> Run:
    script = tmp_path / "agent.py"
    script.write_text(dedent(text).lstrip(), encoding="utf-8")
    # An absolute path replaces the agents folder `run_instrumented` joins it to.
    return run_instrumented(str(script), args, environment)


def test_gate_installed_in_code_governs_when_zero_code_had_none(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """No TRACENGENT_GOVERNED_HOSTS: zero code loads the egress instrumentor without a gate; the
    README's `TracengentHTTPXInstrumentor().instrument(gate=...)` in the agent still installs its
    gate, and the governed request is denied before it leaves."""
    with serve(lambda _: json_reply({})) as tools:
        run = _run_script(
            tmp_path, _GATE_IN_CODE_AGENT, [tools.url], platform_environment(tracengent_platform)
        )
    assert run.returncode == 0, run.stderr
    assert "refused ToolDeniedException" in run.stdout, (run.stdout, run.stderr)
    assert tools.received == []
    assert [d.status for d in tracengent_platform.store.decisions()] == ["denied"]


def test_unreadable_disabled_switch_sends_nothing_and_says_so(
    tracengent_platform: RunningPlatform,
) -> None:
    """TRACENGENT_DISABLED=disable (not a boolean): like any unreadable setting, one warning
    naming it, nothing sent to the platform, and the agent runs (not silently fully on)."""
    environment = platform_environment(tracengent_platform, TRACENGENT_DISABLED="disable")
    with serve(lambda _: json_reply({})) as tools:
        run = run_instrumented("httpx_agent.py", [tools.url, "/a"], environment)
    assert run.returncode == 0, run.stderr
    assert tools.paths() == ["/a"]
    assert run.stderr.count("tracengent: not configured") == 1, run.stderr
    assert "TRACENGENT_DISABLED='disable'" in run.stderr, run.stderr
    assert tracengent_platform.store.counters() == {}


_NO_ENV_CLIENT_AGENT = """
import sys

import httpx

# The agent's client ignores the environment's proxy settings; the SDK's own clients read them.
with httpx.Client(trust_env=False, timeout=10) as http:
    try:
        print("sent", http.post(sys.argv[1] + "/v1/refunds", json={"order": 42}).status_code)
    except Exception as exc:
        print("refused", type(exc).__name__, exc)
"""


def test_governed_host_is_denied_when_the_gate_cannot_be_built(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """A proxy setting httpx refuses (HTTPS_PROXY=foo://...) breaks the gate's platform client:
    a request to a governed host is denied (fail closed), not let through ungated."""
    environment = platform_environment(
        tracengent_platform, TRACENGENT_GOVERNED_HOSTS="127.0.0.1", HTTPS_PROXY="foo://proxy"
    )
    with serve(lambda _: json_reply({})) as tools:
        run = _run_script(tmp_path, _NO_ENV_CLIENT_AGENT, [tools.url], environment)
    assert run.returncode == 0, run.stderr
    assert "refused ToolDeniedException" in run.stdout, (run.stdout, run.stderr)
    assert "foo://proxy" in run.stdout
    assert tools.received == []
