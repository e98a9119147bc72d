"""`--json` output cannot drive the terminal either: what JSON leaves raw is escaped too."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tracengent.cli import main
from tracengent.platform import PlatformStore

# U+009B is CSI, the one-character form of `ESC [`: many terminals act on it in UTF-8 too.
_C1 = "\u009b2J\u009bHapr_fake [pending] 5 EUR"
_BIDI = "pay\u202eevil\u2028next"


def _store(tmp_path: Path) -> PlatformStore:
    return PlatformStore(tmp_path / "dev.sqlite3")


def _assert_terminal_safe(output: str) -> None:
    assert all(c.isprintable() or c == "\n" for c in output), repr(output)


def test_traces_json_escapes_c1_controls_and_bidi_overrides(tmp_path: Path) -> None:
    """A C1 control, a bidi override or a line separator in an event shows as a JSON escape."""
    store = _store(tmp_path)
    store.ingest_events(
        "demo-agent",
        [
            {"eventId": "evt_1", "traceId": "trc_1", "type": "action", "name": _C1,
             "status": "success", "rootRequest": _BIDI, "attributes": {_C1: "\U000e0041"}},
            {"eventId": "evt_2", "type": "action", "name": _BIDI, "status": "success"},
        ],
    )  # fmt: skip
    result = CliRunner().invoke(main, ["traces", "--json", "--db", str(store.path)])
    assert result.exit_code == 0, result.output
    _assert_terminal_safe(result.output)
    assert "\\u009b2J" in result.output
    shown = json.loads(result.output)
    (event,) = shown["traces"][0]["events"]
    assert event["name"] == _C1
    assert event["attributes"] == {_C1: "\U000e0041"}
    assert shown["traces"][0]["rootRequest"] == _BIDI
    assert shown["standaloneEvents"][0]["name"] == _BIDI


def test_approvals_json_escapes_c1_controls_in_the_context(tmp_path: Path) -> None:
    """An approval's context with a C1 control lists escaped, and parses back to what was sent."""
    store = _store(tmp_path)
    store.create_approval(
        agent_id="demo-agent",
        permission="payments:refund",
        context={"note": _C1, "amount": 5000, "currency": "EUR"},
        ttl_seconds=600,
        amount=5000,
        currency="EUR",
    )
    result = CliRunner().invoke(main, ["approvals", "--json", "--db", str(store.path)])
    assert result.exit_code == 0, result.output
    _assert_terminal_safe(result.output)
    (approval,) = json.loads(result.output)["approvals"]
    assert approval["context"]["note"] == _C1
