"""Zero code with odd settings, and with the application doing some of the set-up in code.

Each test runs the real `opentelemetry-instrument` against the local platform; agents are written
to the test's `tmp_path`.
"""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

from tests.support.loopback import Received, Reply, json_reply, serve
from tests.zero_code.conftest import (
    Run,
    clean_environment,
    platform_environment,
    run_instrumented,
)
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


_FORKING_AGENT = """
import os
import sys

import httpx

url = sys.argv[1]


def call(who: str) -> None:
    with httpx.Client(timeout=10) as http:
        try:
            http.post(url + "/v1/refunds", json={"by": who})
            print(who, "sent", flush=True)
        except Exception as exc:
            print(who, "refused", type(exc).__name__, flush=True)


call("parent")
pid = os.fork()
if pid == 0:
    call("child")
    os._exit(0)
os.waitpid(pid, 0)
call("parent-again")
"""


def test_forked_child_asks_the_platform_on_a_connection_of_its_own(tmp_path: Path) -> None:
    """The zero-code gate's platform connection is not shared with a forked child: two processes
    on one kept-alive socket can read each other's decisions. The child's tool-authorize comes
    from a port of its own; the parent keeps its connection."""

    def platform(received: Received) -> Reply:
        if received.path == "/v1/tool-authorize":
            return json_reply(
                {"allowed": False, "status": "denied", "outcome": "policy_deny", "reason": "no"}
            )
        return json_reply({})

    with serve(platform, keep_alive=True) as fake, serve(lambda _: json_reply({})) as tools:
        environment = clean_environment()
        environment.update(
            {
                "TRACENGENT_URL": fake.url,
                "TRACENGENT_INGEST_KEY": "agk_demo",
                "TRACENGENT_AGENT_ID": "demo-agent",
                "TRACENGENT_GOVERNED_HOSTS": "127.0.0.1",
                "OTEL_TRACES_EXPORTER": "none",
                "OTEL_METRICS_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none",
            }
        )
        run = _run_script(tmp_path, _FORKING_AGENT, [tools.url], environment)
        asked = [r for r in fake.received if r.path == "/v1/tool-authorize"]
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "parent refused ToolDeniedException",
        "child refused ToolDeniedException",
        "parent-again refused ToolDeniedException",
    ], (run.stdout, run.stderr)
    assert tools.received == []
    parent, child, parent_again = (r.client_port for r in asked)
    assert parent_again == parent
    assert child != parent
