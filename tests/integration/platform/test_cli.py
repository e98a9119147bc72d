"""The CLI against the database of a running local platform: traces, help, demo."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tracengent.cli import main
from tracengent.testing import RunningPlatform

_TRACE = [
    {"eventId": "evt_root", "traceId": "trc_1", "type": "action", "name": "handle", "status": "success", "durationMs": 30.0, "rootRequest": "Refund order 42"},
    {"eventId": "evt_llm", "traceId": "trc_1", "parentEventId": "evt_root", "type": "llm_call", "name": "plan", "status": "success", "usage": {"tokens": 120, "model": "m"}},
    {"eventId": "evt_tool", "traceId": "trc_1", "parentEventId": "evt_llm", "type": "tool_call", "name": "refund", "status": "failure", "cost": {"amount": 42.5, "currency": "USD"}},
]  # fmt: skip
_STANDALONE = {
    "eventId": "evt_alone",
    "type": "action",
    "name": "issue-invoice",
    "status": "success",
}
_CLOSE = {"traceId": "trc_1", "agentId": "demo-agent", "rootRequest": "Refund order 42", "op": "Close", "status": "completed", "summary": "done"}  # fmt: skip


@pytest.fixture
def recorded(demo: httpx.Client, tracengent_platform: RunningPlatform) -> str:
    """The platform's database after one closed trace, one open trace and a standalone event."""
    assert demo.post("/v1/ingest/events", json=[*_TRACE, _STANDALONE]).status_code == 200
    assert demo.post("/v1/ingest/traces", json=_CLOSE).status_code == 200
    open_event = {
        "eventId": "evt_open",
        "traceId": "trc_2",
        "type": "decision",
        "name": "pick",
        "status": "pending",
    }
    assert demo.post("/v1/ingest/events", json=[open_event]).status_code == 200
    return str(tracengent_platform.store.path)


def test_traces_json_has_the_documented_shape(recorded: str) -> None:
    """`traces --json` prints traces newest first with events as received, then standalone events."""
    result = CliRunner().invoke(main, ["traces", "--db", recorded, "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert set(printed) == {"traces", "standaloneEvents"}
    newest, closed = printed["traces"]
    assert newest == {
        "traceId": "trc_2",
        "agentId": "demo-agent",
        "rootRequest": None,
        "status": "open",
        "summary": None,
        "events": [
            {
                "eventId": "evt_open",
                "traceId": "trc_2",
                "type": "decision",
                "name": "pick",
                "status": "pending",
            }
        ],
    }
    assert (closed["traceId"], closed["status"], closed["summary"]) == (
        "trc_1",
        "completed",
        "done",
    )
    assert closed["rootRequest"] == "Refund order 42"
    assert closed["events"] == _TRACE
    assert printed["standaloneEvents"] == [_STANDALONE]


def test_traces_limit_keeps_the_newest(recorded: str) -> None:
    """`--limit 1` keeps only the newest trace."""
    result = CliRunner().invoke(main, ["traces", "--db", recorded, "--json", "--limit", "1"])
    assert [t["traceId"] for t in json.loads(result.output)["traces"]] == ["trc_2"]


def test_traces_text_nests_events_by_parent(recorded: str) -> None:
    """The text view indents each event under its parent and shows status, duration, tokens, cost."""
    result = CliRunner().invoke(main, ["traces", "--db", recorded])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "trc_1 [completed] demo-agent 'Refund order 42'" in lines
    assert "  - action handle [success] 30.0 ms" in lines
    assert "    - llm_call plan [success] 120 tokens (m)" in lines
    assert "      - tool_call refund [failure] cost 42.5 USD" in lines
    assert "  - action issue-invoice [success]" in lines


def test_store_commands_use_the_env_database(
    recorded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --db the commands use TRACENGENT_DEV_DB."""
    monkeypatch.setenv("TRACENGENT_DEV_DB", recorded)
    result = CliRunner().invoke(main, ["traces", "--json"])
    assert len(json.loads(result.output)["traces"]) == 2


@pytest.mark.parametrize(
    "command", [[], ["dev"], ["traces"], ["approvals"], ["approve"], ["deny"], ["grant"], ["demo"]]
)
def test_every_command_has_help(command: list[str]) -> None:
    """`--help` works for the group and every command."""
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_dev_refuses_a_bad_policy_naming_the_key(tmp_path: Path) -> None:
    """`tracengent dev --policy` with an invalid file exits non-zero naming the key."""
    policy = tmp_path / "bad.toml"
    policy.write_text("[[agents]]\nid = 'a'\npermissions = 'x'\n", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["dev", "--db", str(tmp_path / "db.sqlite3"), "--policy", str(policy)]
    )
    assert result.exit_code != 0
    assert "'agents[0].permissions'" in result.output


def test_grant_refuses_a_bad_policy_naming_the_key_without_a_traceback(tmp_path: Path) -> None:
    """`tracengent grant --policy` with an invalid file is a one-line error naming the key, like
    `tracengent dev`, and creates no database."""
    policy = tmp_path / "bad.toml"
    policy.write_text("currency = 'eur'\n[[agents]]\nid = 'a'\n", encoding="utf-8")
    db = tmp_path / "db.sqlite3"
    result = CliRunner().invoke(
        main,
        [
            "grant",
            "--db",
            str(db),
            "--policy",
            str(policy),
            "--from",
            "a",
            "--to",
            "a",
            "--permissions",
            "x",
        ],
    )
    # click turns a ClickException into exit code 1 (SystemExit); any other exception escapes.
    assert (result.exit_code, type(result.exception)) == (1, SystemExit), result.output
    assert result.output.startswith("Error: ")
    assert "'currency': expected an ISO 4217 code" in result.output
    assert not db.exists()


def test_demo_runs_every_step_and_prints_the_trace(tmp_path: Path) -> None:
    """`tracengent demo` walks every capability through the SDK and prints the stored trees."""
    result = CliRunner().invoke(main, ["demo", "--db", str(tmp_path / "demo.sqlite3")])
    assert result.exit_code == 0, result.output
    output = result.output
    for line in (
        "refund 120 EUR: allowed",
        "refund 800 EUR: pending_approval",
        "refund 800 EUR after the wait: approved",
        "refund 1500 USD: denied",
        "the API received {'order': 42, 'amount': 120, 'card': '***REDACTED***'}",
        "DELETE /v1/customers/7: policy_deny",
        "); nothing left",
        "mcp search_flights: policy_allow -> ['TP 1234']",
        "function book_flight: policy_allow; it received {'flight': 'TP 1234'}",
        "function send_email: held for approval apr_",
        "function send_email after the approval: policy_allow -> sent",
        "hotels:book 300 EUR: allowed, acting for demo-agent",
        "chain ['demo-agent', 'hotel-agent', 'car-agent']",
        "wider authority for car-agent: refused",
        "mcp search_flights: allowed -> TP 1234",
        "mcp cancel_all_bookings: policy_deny",
        "the MCP server received: ['search_flights LIS->OSL']",
        "every event delivered: True; dropped: 0",
        "[completed] demo-agent 'Refund order 42'",
        "[completed] hotel-agent 'Book the hotel demo-agent asked for'",
    ):
        assert line in output, line
    assert "- tool_call GET api.example.com/v1/orders/42/shipping [success]" in output
    assert "- action issue_refund [success]" in output
    assert "- tool_call search_flights [success]" in output
    assert "- tool_call cancel_all_bookings [failure]" in output
    assert "HTTP Request:" not in output


def test_dev_serves_prints_its_url_and_credentials_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """`tracengent dev --port 0` prints URL, database and credentials, serves tokens, and exits 0 on SIGINT."""
    command = [
        sys.executable,
        "-c",
        "from tracengent.cli import main; main()",
        "dev",
        "--port",
        "0",
    ]
    process = subprocess.Popen(
        [*command, "--db", str(tmp_path / "dev.sqlite3")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in process.stdout or ():
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        while not any(line.startswith("listening on") for line in seen):
            seen.append(lines.get(timeout=20))
        url = seen[-1].split()[2]
        token = httpx.post(
            f"{url}/v1/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "key_demo",
                "client_secret": "ags_demo",
            },
        )
        assert token.status_code == 200
        console = httpx.get(f"{url}/")
        assert console.status_code == 200
        assert "Tracengent local console" in console.text
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=20)
        reader.join(timeout=20)
        if process.stdout is not None:
            process.stdout.close()
    while not lines.empty():
        seen.append(lines.get_nowait())
    output = "".join(seen)
    assert f"database: {tmp_path / 'dev.sqlite3'}" in output
    assert "demo-agent: client_id=key_demo client_secret=ags_demo ingest_key=agk_demo" in output
    assert f"console:  {url}/" in output
    assert "stopped" in output


def test_traces_text_puts_a_follower_beside_the_event_it_follows(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """An event that starts after its parentEventId ended is a sibling; one inside it is nested."""
    events = [
        {"eventId": "evt_a", "traceId": "trc_9", "type": "action", "name": "first", "status": "success", "occurredAt": "2026-11-24T10:00:00.000000+00:00", "durationMs": 100.0},
        {"eventId": "evt_in", "traceId": "trc_9", "parentEventId": "evt_a", "type": "tool_call", "name": "inside", "status": "success", "occurredAt": "2026-11-24T10:00:00.050000+00:00", "durationMs": 10.0},
        {"eventId": "evt_b", "traceId": "trc_9", "parentEventId": "evt_a", "type": "action", "name": "after", "status": "success", "occurredAt": "2026-11-24T10:00:01.000000+00:00", "durationMs": 5.0},
    ]  # fmt: skip
    assert demo.post("/v1/ingest/events", json=events).status_code == 200
    result = CliRunner().invoke(main, ["traces", "--db", str(tracengent_platform.store.path)])
    lines = result.output.splitlines()
    assert "  - action first [success] 100.0 ms" in lines
    assert "    - tool_call inside [success] 10.0 ms" in lines
    assert "  - action after [success] 5.0 ms" in lines
