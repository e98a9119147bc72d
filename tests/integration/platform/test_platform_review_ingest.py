"""Review fixes of the local platform's ingest, over loopback: odd JSON is a 400 on every endpoint,
bodies are size-limited however they are sent, stored odd numbers never break a view, and each
agent's events and trace closes are its own."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from tests.integration.platform.conftest import AgentClient, fetch_token
from tracengent.cli import main
from tracengent.platform._console_view import MAX_TRACE_EVENTS
from tracengent.platform._delegation import create_grant
from tracengent.platform._ingest import MAX_BODY_BYTES
from tracengent.testing import RunningPlatform

_EVENT = '{"type":"action","name":"a","status":"success"'
_ODD_VALUES = {
    "NaN": ("NaN", "invalid number"),
    "Infinity": ("Infinity", "invalid number"),
    "-Infinity": ("-Infinity", "invalid number"),
    "float beyond range": ("1e999", "invalid number"),
    "integer beyond float range": ("1" + "0" * 400, "invalid number"),
    "lone high surrogate": ('"\\ud800"', "invalid string"),
    "lone low surrogate": ('"x\\udfff"', "invalid string"),
    "nesting too deep": ("[" * 100_000 + "]" * 100_000, "too deep"),
}


def _bodies(value: str) -> dict[str, str]:
    """`value` inside a valid request of each JSON endpoint."""
    return {
        "/v1/ingest/events": f'[{_EVENT},"input":{{"x":{value}}}}}]',
        "/v1/ingest/traces": f'{{"traceId":"trc_1","op":"Close","status":"completed","x":{value}}}',
        "/v1/authorize": f'{{"permission":"llm:call","context":{{"estimatedTokens":100,"x":{value}}}}}',
        "/v1/tool-authorize": (
            f'{{"transport":"function","functionName":"book_flight","body":{{"x":{value}}}}}'
        ),
    }


def _post_json(client: httpx.Client, path: str, body: str | bytes) -> httpx.Response:
    return client.post(path, content=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("path", list(_bodies("1")))
@pytest.mark.parametrize("case", list(_ODD_VALUES))
def test_json_no_store_can_hold_is_a_400_without_side_effects(
    demo: httpx.Client, tracengent_platform: RunningPlatform, path: str, case: str
) -> None:
    """NaN, infinities, numbers beyond the float range, lone surrogates and deep nesting are a
    400 naming the problem on every endpoint, and nothing is stored or reserved first."""
    value, error = _ODD_VALUES[case]
    answer = _post_json(demo, path, _bodies(value)[path])
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == error
    store = tracengent_platform.store
    assert (store.events(), store.traces(), store.decisions()) == ([], [], [])
    assert store.token_usage("demo-agent").reserved == 0


def test_the_same_bodies_with_ordinary_values_are_accepted(demo: httpx.Client) -> None:
    """The odd-value bodies are otherwise valid: each endpoint accepts them with a plain number
    and with a surrogate pair (one character outside the BMP)."""
    for value in ("1", '"\\ud83d\\ude00"', '"\\\\ud800"'):
        for path, body in _bodies(value).items():
            assert _post_json(demo, path, body).status_code == 200, (path, value)


@pytest.mark.parametrize("value", ["NaN", "1" + "0" * 400])
def test_attenuate_refuses_odd_numbers_with_400(
    agent_client: AgentClient, tracengent_platform: RunningPlatform, value: str
) -> None:
    """An `expiresInSeconds` that is NaN or beyond the float range is a 400, and no grant is made."""
    grant, token = create_grant(
        tracengent_platform.store,
        tracengent_platform.policy,
        from_agent="demo-agent",
        to_agent="hotel-agent",
        permissions=["hotels:book"],
        ttl_seconds=600,
    )
    delegated = agent_client(token=token.access_token)
    body = (
        '{"grantedToAgentId":"car-agent","permissions":["hotels:book"],'
        f'"expiresInSeconds":{value}}}'
    )
    answer = _post_json(delegated, f"/v1/delegations/{grant.grant_id}/attenuate", body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid number"
    assert [g.grant_id for g in tracengent_platform.store.grants()] == [grant.grant_id]


def _chunks(body: bytes, size: int = 65536) -> Iterator[bytes]:
    # A generator body makes httpx send Transfer-Encoding: chunked, with no Content-Length.
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_chunked_body_over_the_limit_is_refused(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """A valid batch one byte over MAX_BODY_BYTES, sent without Content-Length, is `too large`."""
    head, tail = f'[{_EVENT},"input":"'.encode(), b'"}]'
    body = head + b"x" * (MAX_BODY_BYTES + 1 - len(head) - len(tail)) + tail
    answer = demo.post(
        "/v1/ingest/events", content=_chunks(body), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "too large"
    assert tracengent_platform.store.events() == []
    assert tracengent_platform.store.counters()["demo-agent"].rejection_reasons == {"too large": 1}


def test_chunked_body_within_the_limit_is_stored(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """A chunked batch under the limit is read whole and stored."""
    body = f'[{_EVENT},"input":"{"x" * 200_000}"}}]'.encode()
    answer = demo.post(
        "/v1/ingest/events", content=_chunks(body), headers={"Content-Type": "application/json"}
    )
    assert answer.json() == {"accepted": 1, "stored": 1, "duplicates": 0}


@pytest.mark.parametrize("chunked", [False, True])
def test_token_endpoint_reads_a_small_form_only(
    tracengent_platform: RunningPlatform, chunked: bool
) -> None:
    """The unauthenticated token endpoint refuses a form over 4096 bytes, however it is sent."""
    form = b"grant_type=client_credentials&client_id=key_demo&client_secret=ags_demo&pad="
    form += b"x" * (4097 - len(form))
    answer = httpx.post(
        f"{tracengent_platform.url}/v1/oauth/token",
        content=_chunks(form, 1024) if chunked else form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_request"
    assert fetch_token(tracengent_platform.url, "key_demo", "ags_demo").status_code == 200


def test_console_form_over_its_limit_sent_chunked_is_413(
    tracengent_platform: RunningPlatform,
) -> None:
    """An approve form over 4096 bytes without Content-Length is refused before it is all read."""
    answer = httpx.post(
        f"{tracengent_platform.url}/console/approvals/apr_x/approve",
        content=_chunks(b"csrf_token=" + b"x" * 5000, 1024),
        timeout=10,
    )
    assert answer.status_code == 413


# -- stored numbers beyond the float range ----------------------------------------------------


def test_console_and_cli_show_a_stored_number_beyond_float_range_as_absent(
    tracengent_platform: RunningPlatform,
) -> None:
    """An event stored with 10**400 tokens, duration and cost (as a database written before
    ingest refused them holds) leaves the console and `tracengent traces` working."""
    huge = 10**400
    event: JsonObject = {
        "eventId": "evt_big",
        "traceId": "trc_big",
        "type": "llm_call",
        "name": "big",
        "status": "success",
        "durationMs": huge,
        "usage": {"tokens": huge},
        "cost": {"amount": huge, "currency": "EUR"},
    }
    tracengent_platform.store.ingest_events("demo-agent", [event])
    with httpx.Client(base_url=tracengent_platform.url, timeout=10) as browser:
        for path in ("/", "/console/api/state", "/console/api/fragments"):
            assert browser.get(path).status_code == 200, path
        (trace,) = browser.get("/console/api/state").json()["traces"]
    (shown,) = trace["events"]
    assert (shown["tokens"], shown["durationMs"], shown["cost"]) == (None, None, None)
    db = str(tracengent_platform.store.path)
    result = CliRunner().invoke(main, ["traces", "--db", db])
    assert result.exit_code == 0, result.output
    assert "llm_call big [success]" in result.output


def test_console_and_cli_show_a_chain_of_events_deeper_than_the_recursion_limit(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """One batch of events chained by parentEventId, more levels than Python recurses, is shown
    by the console and `tracengent traces` one level per event."""
    length = sys.getrecursionlimit() + 200
    batch = [
        {
            "eventId": f"evt_{i}",
            "traceId": "trc_deep",
            "type": "action",
            "name": f"step{i}",
            "status": "success",
            **({"parentEventId": f"evt_{i - 1}"} if i else {}),
        }
        for i in range(length)
    ]
    assert demo.post("/v1/ingest/events", json=batch).status_code == 200
    with httpx.Client(base_url=tracengent_platform.url, timeout=30) as browser:
        for path in ("/", "/console/api/fragments"):
            assert browser.get(path).status_code == 200, path
        state = browser.get("/console/api/state")
    assert state.status_code == 200
    (trace,) = state.json()["traces"]
    # The console shows a trace's first `MAX_TRACE_EVENTS` events (a note counts the rest).
    assert [e["depth"] for e in trace["events"]] == list(range(MAX_TRACE_EVENTS))
    assert trace["eventCount"] == length
    db = str(tracengent_platform.store.path)
    result = CliRunner().invoke(main, ["traces", "--db", db])
    assert result.exit_code == 0, result.output
    # The whole chain is printed; past 32 levels the indent stops and the line names its depth.
    assert f"[depth {length - 1}] - action step{length - 1} [success]" in result.output
    assert result.output.count("- action step") == length


def test_llm_call_tokens_beyond_sqlite_integers_are_counted_saturated(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """`usage.tokens` of 10**300 (a valid JSON number) is stored, exhausts the budget, and does
    not fail the batch on SQLite's 64-bit integers."""
    event = {"type": "llm_call", "name": "big", "status": "success", "usage": {"tokens": 10**300}}
    for _ in range(2):
        assert demo.post("/v1/ingest/events", json=[event]).status_code == 200
    assert tracengent_platform.store.token_usage("demo-agent").used >= 10**18
    answer = demo.post("/v1/authorize", json={"permission": "llm:call"})
    assert answer.json()["status"] == "denied"


# -- per-agent isolation ----------------------------------------------------------------------


@pytest.fixture
def hotel(agent_client: AgentClient) -> httpx.Client:
    """A client authenticated as hotel-agent."""
    return agent_client("hotel-agent")


def _action(name: str, **ids: str) -> dict[str, str]:
    return {**ids, "type": "action", "name": name, "status": "success"}


@pytest.mark.parametrize("key", ["idempotencyKey", "eventId"])
def test_another_agents_key_does_not_suppress_an_event(
    demo: httpx.Client, hotel: httpx.Client, tracengent_platform: RunningPlatform, key: str
) -> None:
    """hotel-agent sending demo-agent's key first does not make demo-agent's event a duplicate."""
    hotel.post("/v1/ingest/events", json=[_action("junk", **{key: "refund-order-42"})])
    answer = demo.post("/v1/ingest/events", json=[_action("refund", **{key: "refund-order-42"})])
    assert answer.json() == {"accepted": 1, "stored": 1, "duplicates": 0}
    stored = [(e.agent_id, e.body["name"]) for e in tracengent_platform.store.events()]
    assert stored == [("hotel-agent", "junk"), ("demo-agent", "refund")]


@pytest.mark.parametrize("key", ["idempotencyKey", "eventId"])
def test_an_agents_own_key_still_deduplicates(
    demo: httpx.Client, tracengent_platform: RunningPlatform, key: str
) -> None:
    """The same agent re-sending a key stores it once."""
    demo.post("/v1/ingest/events", json=[_action("first", **{key: "k"})])
    again = demo.post("/v1/ingest/events", json=[_action("again", **{key: "k"})])
    assert again.json() == {"accepted": 1, "stored": 0, "duplicates": 1}
    assert [e.body["name"] for e in tracengent_platform.store.events()] == ["first"]


def test_an_event_id_and_an_idempotency_key_of_one_value_do_not_collide(
    demo: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """eventIds and idempotencyKeys are separate namespaces."""
    batch = [_action("a", eventId="k1"), _action("b", idempotencyKey="k1")]
    assert demo.post("/v1/ingest/events", json=batch).json()["stored"] == 2
    assert len(tracengent_platform.store.events()) == 2


def test_another_agent_cannot_close_a_trace(
    demo: httpx.Client, hotel: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """hotel-agent closing demo-agent's trace id first leaves demo-agent's own close in force."""
    demo.post("/v1/ingest/events", json=[_action("step", traceId="trc_demo1")])
    bogus = {"traceId": "trc_demo1", "op": "Close", "status": "failed", "summary": "bogus"}
    assert hotel.post("/v1/ingest/traces", json=bogus).status_code == 200
    own = {"traceId": "trc_demo1", "op": "Close", "status": "completed", "summary": "done"}
    assert demo.post("/v1/ingest/traces", json=own).json()["stored"] == 1
    traces = {t.agent_id: t for t in tracengent_platform.store.traces()}
    assert (traces["demo-agent"].status, traces["demo-agent"].summary) == ("completed", "done")
    assert [e.body["name"] for e in traces["demo-agent"].events] == ["step"]
    assert (traces["hotel-agent"].status, traces["hotel-agent"].events) == ("failed", [])
    assert demo.post("/v1/ingest/traces", json=own).json()["duplicates"] == 1


def test_events_and_closes_are_attributed_to_the_authenticated_agent(
    hotel: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """A body `agentId` naming another agent is replaced by the sender's, in what is stored and
    in what the console filters on."""
    spoof = {**_action("wire-transfer", traceId="trc_spoof"), "agentId": "demo-agent"}
    standalone = {**_action("standalone"), "agentId": "demo-agent"}
    hotel.post("/v1/ingest/events", json=[spoof, standalone])
    close = {"traceId": "trc_spoof", "agentId": "demo-agent", "op": "Close", "status": "completed"}
    hotel.post("/v1/ingest/traces", json=close)
    store = tracengent_platform.store
    assert {(e.agent_id, e.body["agentId"]) for e in store.events()} == {
        ("hotel-agent", "hotel-agent")
    }
    (trace,) = store.traces()
    assert (trace.agent_id, trace.close) == ("hotel-agent", {**close, "agentId": "hotel-agent"})
    with httpx.Client(base_url=tracengent_platform.url, timeout=10) as browser:
        as_demo = browser.get("/console/api/state", params={"agent": "demo-agent"}).json()
        as_hotel = browser.get("/console/api/state", params={"agent": "hotel-agent"}).json()
    assert (as_demo["traces"], as_demo["standaloneEvents"]) == ([], [])
    assert [t["agentId"] for t in as_hotel["traces"]] == ["hotel-agent"]
    assert [e["name"] for e in as_hotel["standaloneEvents"]] == ["standalone"]


def test_a_trace_shows_only_its_own_agents_decisions(
    demo: httpx.Client, hotel: httpx.Client, tracengent_platform: RunningPlatform
) -> None:
    """A decision hotel-agent takes under demo-agent's trace id is not shown in demo's trace."""
    demo.post("/v1/ingest/events", json=[_action("step", traceId="trc_demo1")])
    hotel.post("/v1/authorize", json={"permission": "hotels:book", "traceId": "trc_demo1"})
    with httpx.Client(base_url=tracengent_platform.url, timeout=10) as browser:
        (trace,) = browser.get("/console/api/state").json()["traces"]
    assert (trace["agentId"], trace["decisions"]) == ("demo-agent", [])
