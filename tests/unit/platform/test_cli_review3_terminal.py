"""Agent-supplied text printed by the CLI cannot forge lines or drive the terminal."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tracengent.cli import main
from tracengent.platform import PlatformStore

_FORGED = "lookup\n  - tool_call refund [success] 1.0 ms"
_ESCAPE = "\x1b]0;owned\x07\x1b[2Jname"
_BIDI = "pay\u202eevil"


def _store(tmp_path: Path) -> PlatformStore:
    return PlatformStore(tmp_path / "dev.sqlite3")


def test_traces_escapes_control_characters_in_event_fields(tmp_path: Path) -> None:
    """A newline, an escape sequence or a bidi override in a name shows escaped, on its line."""
    store = _store(tmp_path)
    store.ingest_events(
        "demo-agent",
        [
            {"eventId": "evt_1", "traceId": "trc_1", "type": "action", "name": _FORGED,
             "status": "success"},
            {"eventId": "evt_2", "traceId": "trc_1", "type": "action\x1b[31m", "name": _ESCAPE,
             "status": _BIDI},
            {"eventId": "evt_3", "type": "action", "name": _ESCAPE, "status": "success",
             "usage": {"tokens": 3, "model": "m\rx"}},
        ],
    )  # fmt: skip
    store.ingest_trace_close(
        "demo-agent", {"traceId": "trc_1", "status": "completed", "summary": _FORGED}
    )
    result = CliRunner().invoke(main, ["traces", "--db", str(store.path)])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output
    assert "\u202e" not in result.output
    assert "\r" not in result.output
    lines = result.output.splitlines()
    # Two events in the trace, one summary, one standalone: nothing forged a line of its own.
    assert not any(line.startswith("  - tool_call refund") for line in lines), lines
    assert "  - action lookup\\n  - tool_call refund [success] 1.0 ms [success]" in lines
    assert "  summary: lookup\\n  - tool_call refund [success] 1.0 ms" in lines
    assert "  - action\\x1b[31m \\x1b]0;owned\\x07\\x1b[2Jname [pay\\u202eevil]" in lines
    assert "  - action \\x1b]0;owned\\x07\\x1b[2Jname [success] 3 tokens (m\\rx)" in lines


def test_approvals_escapes_control_characters_in_the_permission(tmp_path: Path) -> None:
    """An approval asked for a permission with a newline lists on one line."""
    store = _store(tmp_path)
    store.create_approval(
        agent_id="demo-agent",
        permission="payments:refund\napr_fake [approved]",
        context={},
        ttl_seconds=600,
        amount=5,
        currency="EUR\x1b[0m",
    )
    result = CliRunner().invoke(main, ["approvals", "--db", str(store.path)])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 1, result.output
    assert "payments:refund\\napr_fake [approved] 5 EUR\\x1b[0m" in result.output
