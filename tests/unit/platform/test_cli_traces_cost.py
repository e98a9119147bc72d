"""`tracengent traces` reads what it shows: the events of the traces it lists (`--limit`) and the
standalone events, found through the (agent, trace) index, not every stored event decoded once
for the traces and again for the standalone ones. What it shows is unchanged."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from tracengent.cli import main
from tracengent.platform import PlatformStore, TraceRecord
from tracengent.platform import store as store_module


def _event(n: int, trace_id: str | None = None) -> JsonObject:
    event: JsonObject = {"eventId": f"evt_{n}", "type": "action", "name": f"step {n}"}
    event["status"] = "success"
    if trace_id is not None:
        event["traceId"] = trace_id
    return event


@pytest.fixture
def store(tmp_path: Path) -> PlatformStore:
    """Two agents' traces (one trace id shared by both, a close without events, a close after
    later events of another trace) interleaved with standalone events of both."""
    store = PlatformStore(tmp_path / "db.sqlite3")
    n = 0
    for round_ in range(40):
        for agent in ("demo-agent", "hotel-agent"):
            batch = []
            for trace in range(5):
                n += 1
                batch.append(_event(n, f"trc_{agent}_{(round_ + trace) % 30}"))
            n += 1
            batch.append(_event(n, "trc_shared"))
            if round_ % 7 == 0:
                n += 1
                batch.append(_event(n))
            store.ingest_events(agent, batch)
        if round_ % 9 == 0:
            store.ingest_trace_close(
                "demo-agent",
                {"traceId": f"trc_demo-agent_{round_ % 30}", "op": "Close", "status": "completed"},
            )
    store.ingest_trace_close(
        "hotel-agent", {"traceId": "trc_only_closed", "op": "Close", "status": "failed"}
    )
    return store


def _as_tuples(traces: list[TraceRecord]) -> list[tuple[object, ...]]:
    return [
        (t.agent_id, t.trace_id, t.status, t.close, [(e.seq, e.body) for e in t.events])
        for t in traces
    ]


def test_traces_and_standalone_events_are_those_every_event_gives(store: PlatformStore) -> None:
    """Grouped from every stored event (as before): the same traces in the same order, with the
    same events, closes and statuses; `limit` is a prefix; the same standalone events."""
    every = store.events()
    expected_standalone = [e for e in every if not isinstance(e.body.get("traceId"), str)]
    assert [(e.seq, e.agent_id, e.body) for e in store.standalone_events()] == [
        (e.seq, e.agent_id, e.body) for e in expected_standalone
    ]
    groups: dict[tuple[str, str], list[tuple[int, JsonObject]]] = {}
    latest: dict[tuple[str, str], int] = {}
    for event in every:
        trace_id = event.body.get("traceId")
        if isinstance(trace_id, str):
            key = (event.agent_id, trace_id)
            groups.setdefault(key, []).append((event.seq, event.body))
            latest[key] = event.seq
    with closing(sqlite3.connect(store.path)) as db:
        closes = {
            (str(a), str(t)): int(seq)
            for a, t, seq in db.execute("SELECT agent_id, trace_id, seq FROM trace_closes")
        }
    for key, seq in closes.items():
        latest[key] = max(latest.get(key, 0), seq)
    order = sorted(latest, key=lambda k: latest[k], reverse=True)
    found = store.traces()
    assert [(t.agent_id, t.trace_id) for t in found] == order
    assert [[(e.seq, e.body) for e in t.events] for t in found] == [
        groups.get(k, []) for k in order
    ]
    assert ("hotel-agent", "trc_only_closed") in order
    statuses = {(t.agent_id, t.trace_id): t.status for t in found}
    assert statuses[("hotel-agent", "trc_only_closed")] == "failed"
    assert statuses[("demo-agent", "trc_demo-agent_0")] == "completed"
    assert statuses[("hotel-agent", "trc_shared")] == "open"
    assert _as_tuples(store.traces(limit=3)) == _as_tuples(found[:3])


def test_the_traces_command_decodes_only_what_it_shows(
    store: PlatformStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tracengent traces --limit 2` decodes the events of the two traces it lists, their
    closes and the standalone events, not the whole store (twice)."""
    total = len(store.events())
    shown = store.traces(limit=2)
    standalone = len(store.standalone_events())
    expected = sum(len(t.events) for t in shown) + len(shown) + standalone
    assert expected * 5 < total
    decoded = 0
    real_body = store_module._body

    def counting_body(text: object) -> JsonObject:
        nonlocal decoded
        decoded += 1
        return real_body(text)

    monkeypatch.setattr(store_module, "_body", counting_body)
    result = CliRunner().invoke(
        main, ["traces", "--db", str(store.path), "--limit", "2", "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert decoded <= expected
    assert shown[0].trace_id in result.output
