"""`tracengent traces` on a trace nested thousands of levels deep: output linear in its events."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from tracengent.cli import main
from tracengent.platform import PlatformStore


def _chain(count: int) -> list[JsonObject]:
    """`count` events, each `parentEventId` the previous and no times (nothing contradicts the
    link, so each nests one level under the one before)."""
    events: list[JsonObject] = []
    for i in range(count):
        event: JsonObject = {
            "eventId": f"evt_{i}", "traceId": "trc_1", "type": "action", "name": f"step {i}",
            "status": "success",
        }  # fmt: skip
        if i:
            event["parentEventId"] = f"evt_{i - 1}"
        events.append(event)
    return events


def test_a_deep_chain_is_indented_up_to_a_bound_and_shows_its_depth(tmp_path: Path) -> None:
    """Each level used to add two spaces: 5 000 levels printed 25 MB for 5 000 short lines (and
    50 000 would print 2.5 GB). Past the bound a line is indented no further and names its depth."""
    store = PlatformStore(tmp_path / "dev.sqlite3")
    count = 2_000
    for start in range(0, count, 500):
        store.ingest_events("demo-agent", _chain(count)[start : start + 500])
    result = CliRunner().invoke(main, ["traces", "--db", str(store.path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    events = [line for line in lines if "- action step " in line]
    assert len(events) == count
    assert max(len(line) for line in lines) < 200
    # The first levels are indented as before: two spaces a level.
    assert events[0] == "  - action step 0 [success]"
    assert events[3] == "        - action step 3 [success]"
    # The deepest still says how deep it is, in order.
    assert events[-1].lstrip().startswith(f"[depth {count - 1}] - action step {count - 1} ")
    assert events[-2].lstrip().startswith(f"[depth {count - 2}] - action step {count - 2} ")
