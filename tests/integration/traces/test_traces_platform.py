"""Decision traces end to end: recorded through OTel, stored by the real local platform."""

from __future__ import annotations

import json

import httpx
import pytest
from click.testing import CliRunner

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue
from tests.support.loopback import Received, Reply, json_reply, serve
from tracengent import (
    AgentEvent,
    LlmCallResult,
    Money,
    TracengentClient,
    tracked_async_client,
    tracked_client,
)
from tracengent.cli import main
from tracengent.platform import StoredEvent
from tracengent.testing import RunningPlatform


class FlakyToolError(Exception):
    """A tool failure the agent handles."""


def by_name(events: list[StoredEvent]) -> dict[str, JsonObject]:
    """Stored event bodies by name (names are unique in these tests)."""
    bodies = {str(e.body["name"]): e.body for e in events}
    assert len(bodies) == len(events)
    return bodies


def test_whole_trace_is_stored_with_exact_chaining(
    tracengent_platform: RunningPlatform, no_global_provider: None
) -> None:
    """Steps, tools, LLM calls, actions, nesting and a failure chain exactly in the store."""
    client = TracengentClient(tracengent_platform.options("demo-agent"))
    with client.begin_trace("email the weekly report", actor_user_id="u-7") as trace:
        trace.step("plan", {"steps": 3})

        def search() -> list[str]:
            trace.step("narrow")
            trace.track_llm_call("summarise", lambda: LlmCallResult("short", tokens=12))
            return ["a", "b"]

        trace.track_tool_call("search", search, input={"q": "weekly"})
        draft = trace.track_llm_call(
            "draft", lambda: LlmCallResult("text", tokens=90, model="m-2", cost=Money.usd(0.01))
        )

        def flaky() -> None:
            raise FlakyToolError("quota")

        with pytest.raises(FlakyToolError):
            trace.track_tool_call("flaky", flaky)
        trace.track_action("send", lambda: "sent", input={"body": str(draft)}, cost=Money.eur(1))
        trace.complete("completed", summary="report sent")
    assert client.close(timeout=10)

    (stored,) = tracengent_platform.store.traces()
    assert stored.trace_id == trace.trace_id
    assert (stored.status, stored.summary) == ("completed", "report sent")
    assert stored.root_request == "email the weekly report"
    events = by_name(stored.events)
    ids = {name: body["eventId"] for name, body in events.items()}
    expected_parent: dict[str, JsonValue] = {
        "plan": None,
        "search": ids["plan"],
        "narrow": ids["search"],
        "summarise": ids["search"],
        "draft": ids["search"],
        "flaky": ids["draft"],
        "send": ids["flaky"],
    }
    assert {name: body.get("parentEventId") for name, body in events.items()} == expected_parent
    assert [n for n, body in events.items() if "rootRequest" in body] == ["plan"]
    assert all(body["agentId"] == "demo-agent" for body in events.values())
    assert all(body["actor"] == {"userId": "u-7"} for body in events.values())
    assert events["flaky"]["status"] == "failure"
    assert events["draft"]["usage"] == {"tokens": 90, "model": "m-2"}
    assert events["send"]["cost"] == {"amount": 1.0, "currency": "EUR"}
    assert events["send"]["input"] == {"body": "text"}
    assert events["search"]["output"] == ["a", "b"]
    assert "durationMs" not in events["plan"]
    assert "durationMs" in events["search"]

    result = CliRunner().invoke(
        main, ["traces", "--db", str(tracengent_platform.store.path), "--json"]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert [t["traceId"] for t in printed["traces"]] == [trace.trace_id]
    assert len(printed["traces"][0]["events"]) == 7


def test_exception_leaving_the_trace_fails_it(
    tracengent_platform: RunningPlatform, no_global_provider: None
) -> None:
    """An exception out of the `with` block is stored as a failed trace; the agent sees it."""
    client = TracengentClient(tracengent_platform.options("demo-agent"))

    def agent() -> None:
        with client.begin_trace("doomed") as trace:
            trace.step("about to fail")
            raise KeyError("missing")

    with pytest.raises(KeyError):
        agent()
    assert client.close(timeout=10)
    (stored,) = tracengent_platform.store.traces()
    assert stored.status == "failed"
    assert [e.body["name"] for e in stored.events] == ["about to fail"]


def test_standalone_events_are_stored_without_trace(
    tracengent_platform: RunningPlatform, no_global_provider: None
) -> None:
    """Events recorded outside a trace are standalone: no traceId, no parentEventId."""
    with TracengentClient(tracengent_platform.options("demo-agent")) as client:
        client.record(AgentEvent(name="issue-invoice", type="action", cost=Money.usd(42.5)))
        client.record(AgentEvent(name="heartbeat", type="lifecycle", event_id="evt_beat"))
    events = by_name(tracengent_platform.store.standalone_events())
    assert set(events) == {"issue-invoice", "heartbeat"}
    assert events["heartbeat"]["eventId"] == "evt_beat"
    assert events["issue-invoice"]["cost"] == {"amount": 42.5, "currency": "USD"}
    assert all("parentEventId" not in body for body in events.values())
    assert tracengent_platform.store.traces() == []


def _answer(received: Received) -> Reply:
    return json_reply({"ok": True}, status=500 if received.path.startswith("/broken") else 200)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_tracked_client_calls_a_loopback_server(
    tracengent_platform: RunningPlatform, no_global_provider: None, is_async: bool
) -> None:
    """A tracked client's calls are stored as chained tool calls and carry traceparent."""
    client = TracengentClient(tracengent_platform.options("demo-agent"))
    with serve(_answer) as server, client.begin_trace("call apis") as trace:
        if is_async:
            async with tracked_async_client(client, base_url=server.url) as http:
                await http.get("/items")
                await http.post("/broken", json={"x": 1})
        else:
            with tracked_client(client, base_url=server.url) as sync_http:
                sync_http.get("/items")
                sync_http.post("/broken", json={"x": 1})
    assert client.close(timeout=10)
    host = httpx.URL(server.url).host
    (stored,) = tracengent_platform.store.traces()
    events = by_name(stored.events)
    items, broken = events[f"GET {host}/items"], events[f"POST {host}/broken"]
    assert (items["type"], items["status"]) == ("tool_call", "success")
    assert broken["status"] == "failure"
    assert broken["parentEventId"] == items["eventId"]
    assert items["rootRequest"] == "call apis"
    otel_trace_hex = trace.trace_id[4:36]
    assert all(r.headers["traceparent"].split("-")[1] == otel_trace_hex for r in server.received)
