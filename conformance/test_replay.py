"""Replays every entry of `wire_contract.json` through the wire layer, sync and async."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, timezone

import httpx
import pytest

from conformance.replay import (
    Recorder,
    entry,
    entry_names,
    load_fixture,
    make_jwt,
    normalize,
    normalize_headers,
    trace_link_problems,
)
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.redaction import Redaction
from opentelemetry.exporter.tracengent.token import AgentTokenProvider
from opentelemetry.exporter.tracengent.transport import (
    AsyncPlatformClient,
    DeliveryResult,
    PlatformClient,
)
from opentelemetry.exporter.tracengent.wire import (
    Actor,
    AgentEvent,
    AuthDecision,
    Money,
    ToolDecision,
    TraceClose,
    Usage,
    format_timestamp,
    merge_tags,
)

FIXTURE = load_fixture()
ENTRIES = entry_names(FIXTURE)
AGENT_TOKEN = make_jwt({"sub": "key_billing", "permissions": ["payments:*", "invoices:read"]})
DELEGATED_TOKEN = make_jwt({"grant_id": "dlg_4", "acting_for": "u_42"})
MOMENT = format_timestamp(datetime(2026, 11, 24, 10, 15, 2, 123456, tzinfo=timezone.utc))


def fixture_options() -> TracengentOptions:
    """The client options the fixture was written for."""
    raw = FIXTURE["options"]
    assert isinstance(raw, dict)
    return TracengentOptions(
        agent_id=str(raw["agentId"]),
        client_id=str(raw["clientId"]),
        client_secret=str(raw["clientSecret"]),
        environment=str(raw["environment"]),
        default_tags=[str(t) for t in tags] if isinstance(tags := raw["defaultTags"], list) else [],
    )


def concrete(value: JsonValue) -> JsonValue:
    """A fixture request with its sentinels replaced by coherent concrete values.

    Events get sequential ids; `parentEventId` names the event before; all share one trace id.
    """
    counter = itertools.count(1)
    previous: list[str] = []

    def walk(node: JsonValue) -> JsonValue:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        out: JsonObject = {}
        for key, item in node.items():
            if item == "<id>" and key == "eventId":
                out[key] = f"evt_{next(counter)}"
            elif item == "<id>" and key == "parentEventId":
                out[key] = previous[-1]
            elif item == "<id>" and key == "traceId":
                out[key] = "trc_conformance"
            elif item == "<id>":
                out[key] = f"idem_{next(counter)}"
            elif item == "<ts>":
                out[key] = MOMENT
            elif item == "<duration>":
                out[key] = 812.5
            else:
                out[key] = walk(item)
        if isinstance(out.get("eventId"), str):
            previous.append(str(out["eventId"]))
        return out

    return walk(value)


def _text(wire: JsonObject, key: str) -> str | None:
    value = wire.get(key)
    return value if isinstance(value, str) else None


def _number(wire: JsonValue, key: str) -> float:
    assert isinstance(wire, dict)
    value = wire[key]
    assert isinstance(value, (int, float))
    return value


def event_from_wire(wire: JsonObject, options: TracengentOptions) -> AgentEvent:
    """The `AgentEvent` a wire event came from, so the data model's serialization is replayed too."""
    cost, usage, actor = wire.get("cost"), wire.get("usage"), wire.get("actor")
    attributes, tags = wire.get("attributes"), wire.get("tags")
    duration = wire.get("durationMs")
    return AgentEvent(
        name=str(wire["name"]),
        type=str(wire["type"]),
        status=str(wire["status"]),
        event_id=_text(wire, "eventId"),
        idempotency_key=_text(wire, "idempotencyKey"),
        agent_id=_text(wire, "agentId"),
        trace_id=_text(wire, "traceId"),
        parent_event_id=_text(wire, "parentEventId"),
        cost=Money(_number(cost, "amount"), str(cost["currency"]))
        if isinstance(cost, dict)
        else None,
        usage=Usage(int(_number(usage, "tokens")), _text(usage, "model"))
        if isinstance(usage, dict)
        else None,
        actor=Actor(str(actor["userId"])) if isinstance(actor, dict) else None,
        input=wire.get("input"),
        output=wire.get("output"),
        attributes=attributes if isinstance(attributes, dict) else None,
        occurred_at=_text(wire, "occurredAt"),
        duration_ms=duration if isinstance(duration, (int, float)) else None,
        tags=merge_tags(
            options.environment,
            options.default_tags,
            [str(t) for t in tags] if isinstance(tags, list) else None,
        ),
        root_request=_text(wire, "rootRequest"),
    )


def trace_close_from_wire(wire: JsonObject) -> TraceClose:
    """The `TraceClose` a wire trace close came from."""
    return TraceClose(
        trace_id=str(wire["traceId"]),
        agent_id=str(wire["agentId"]),
        status=str(wire["status"]),
        occurred_at=str(wire["occurredAt"]),
        root_request=_text(wire, "rootRequest"),
        summary=_text(wire, "summary"),
    )


async def replay(name: str, mode: str, recorder: Recorder) -> object:
    """Perform entry `name`'s call with a sync or async client; returns what the call returned."""
    item = entry(name, FIXTURE)
    options = fixture_options()
    request = concrete(item.get("request"))
    if name == "oauth_token":
        if mode == "sync":
            with httpx.Client(transport=recorder.transport()) as http:
                return AgentTokenProvider(options, http).get_token()
        async with httpx.AsyncClient(transport=recorder.transport()) as ahttp:
            return await AgentTokenProvider(options, async_http=ahttp).get_token_async()
    path = str(item["path"])
    method, args = _call_for(name, path, request, options)
    bearer = DELEGATED_TOKEN if item["auth"] == "delegated" else None
    if mode == "sync":
        client = PlatformClient(options, transport=recorder.transport(), bearer_token=bearer)
        try:
            return getattr(client, method)(*args)
        finally:
            client.close()
    aclient = AsyncPlatformClient(options, transport=recorder.transport(), bearer_token=bearer)
    try:
        return await getattr(aclient, method)(*args)
    finally:
        await aclient.aclose()


def _call_for(
    name: str, path: str, request: JsonValue, options: TracengentOptions
) -> tuple[str, tuple[object, ...]]:
    if name.startswith("ingest_events"):
        assert isinstance(request, list)
        events = [event_from_wire(e, options).to_wire() for e in request if isinstance(e, dict)]
        return "post_events", (events,)
    assert isinstance(request, dict) or request is None
    if name == "trace_close":
        assert isinstance(request, dict)
        return "post_trace_close", (trace_close_from_wire(request).to_wire(),)
    if name.startswith("authorize"):
        return "authorize", (request,)
    if name.startswith("tool_authorize"):
        return "tool_authorize", (request,)
    if name == "approval_status":
        return "approval_status", (path.rsplit("/", 1)[1],)
    if name == "attenuate":
        return "attenuate", (path.split("/")[3], request)
    raise AssertionError(f"no replay for fixture entry {name}")


def _delivered(count: int) -> Callable[[object], None]:
    def check(result: object) -> None:
        assert result == DeliveryResult(count, 0, 0, None, 202)

    return check


def _auth(**expected: object) -> Callable[[object], None]:
    def check(result: object) -> None:
        assert isinstance(result, AuthDecision)
        assert {k: getattr(result, k) for k in expected} == expected

    return check


def _tool(**expected: object) -> Callable[[object], None]:
    def check(result: object) -> None:
        assert isinstance(result, ToolDecision)
        assert {k: getattr(result, k) for k in expected} == expected

    return check


def _allowed_with_obligations(result: object) -> None:
    _auth(allowed=True, status="allowed", decision_id="dec_7", reason="within policy")(result)
    assert isinstance(result, AuthDecision)
    assert result.obligations is not None
    assert (result.obligations.max_amount, result.obligations.require_approval_over) == (100, 75)
    assert (result.obligations.currency, result.obligations.redact_fields) == ("USD", ["$.card"])


def _attenuated(result: object) -> None:
    assert isinstance(result, dict)
    assert result["accessToken"] == AGENT_TOKEN  # the answer's `<jwt>`, carried over as is
    assert (result["tokenType"], result["expiresIn"], result["jti"]) == ("Bearer", 300, "j_9")


def _token(result: object) -> None:
    assert result == AGENT_TOKEN  # the answer's `access_token`, not just any three-part text


EXPECTED_RESULTS: dict[str, Callable[[object], None]] = {
    "oauth_token": _token,
    "ingest_events_standalone": _delivered(1),
    "ingest_events_traced": _delivered(2),
    "trace_close": _delivered(1),
    "authorize_allowed": _allowed_with_obligations,
    "authorize_pending": _auth(
        allowed=False, pending=True, approval_id="apr_3", decision_id="dec_8"
    ),
    "authorize_delegated": _auth(
        allowed=True, acting_for="u_42", chain=["agt_travel", "agt_flights"]
    ),
    "approval_status": lambda result: _equal(result, "approved"),
    "tool_authorize_http": _tool(
        allowed=True,
        outcome="policy_allow",
        permission="payments:refund",
        redactions=[Redaction("$.card", "mask")],
    ),
    "tool_authorize_mcp": _tool(
        allowed=False, status="denied", outcome="policy_deny", permission="flights:search"
    ),
    "tool_authorize_function": _tool(
        allowed=False, pending=True, approval_id="apr_4", outcome="approval_required"
    ),
    "attenuate": _attenuated,
}


def _equal(result: object, expected: object) -> None:
    assert result == expected


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """Each replay runs through the blocking and the coroutine client."""
    return str(request.param)


@pytest.mark.parametrize("name", ENTRIES)
async def test_entry_request_matches_fixture(name: str, mode: str) -> None:
    """The request the wire layer produces equals the fixture's, modulo sentinels."""
    item = entry(name, FIXTURE)
    recorder = Recorder.for_fixture(FIXTURE, token=AGENT_TOKEN, names=["oauth_token", name])
    await replay(name, mode, recorder)
    sent = recorder.to(str(item["path"]))
    assert len(sent) == 1
    request = sent[0]
    assert request.method == item["method"]
    expected_headers = item["headers"]
    assert isinstance(expected_headers, dict)
    headers = normalize_headers(request.headers)
    assert {k: headers.get(k) for k in expected_headers} == expected_headers
    assert "content-encoding" not in headers  # every fixture body is under the gzip threshold
    if "request_form" in item:
        assert request.form() == item["request_form"]
    elif "request" in item:
        produced = normalize(request.json())
        ignored = item.get("ignore_keys")
        for key in ignored if isinstance(ignored, list) else []:
            assert isinstance(produced, dict)
            produced.pop(str(key), None)
        assert produced == item["request"]
    else:
        assert request.body == b""


@pytest.mark.parametrize("name", ENTRIES)
async def test_entry_response_parses_into_public_types(name: str, mode: str) -> None:
    """The fixture's answer parses into the public types with every field carried over."""
    recorder = Recorder.for_fixture(FIXTURE, token=AGENT_TOKEN, names=["oauth_token", name])
    result = await replay(name, mode, recorder)
    EXPECTED_RESULTS[name](result)


@pytest.mark.parametrize("name", [n for n in ENTRIES if entry(n, FIXTURE)["auth"] != "none"])
async def test_auth_header_follows_credentials(name: str, mode: str) -> None:
    """Client-credential calls carry the agent's token; delegated calls only the delegated one."""
    item = entry(name, FIXTURE)
    recorder = Recorder.for_fixture(FIXTURE, token=AGENT_TOKEN, names=["oauth_token", name])
    await replay(name, mode, recorder)
    request = recorder.last(str(item["path"]))
    if item["auth"] == "delegated":
        assert request.headers["authorization"] == f"Bearer {DELEGATED_TOKEN}"
        assert recorder.to("/v1/oauth/token") == []
    else:
        assert request.headers["authorization"] == f"Bearer {AGENT_TOKEN}"
        assert recorder.requests[0].path == "/v1/oauth/token"
    assert "x-ingest-key" not in request.headers


def test_fixture_covers_every_section() -> None:
    """The fixture has at least one entry for each of the contract's sections 1 to 7."""
    sections = {str(entry(n, FIXTURE)["section"]) for n in ENTRIES}
    assert sections == {"1", "2", "3", "4", "5", "6", "7"}


def test_traced_events_follow_the_trace_rules() -> None:
    """The traced pair shares a trace, links parent to child, and only the first has rootRequest."""
    request = concrete(entry("ingest_events_traced", FIXTURE)["request"])
    assert isinstance(request, list)
    assert trace_link_problems(request) == []
    assert trace_link_problems(list(reversed(request))) != []


def test_standalone_event_carries_no_trace_fields() -> None:
    """A standalone point-in-time event has no traceId, parentEventId or durationMs."""
    request = entry("ingest_events_standalone", FIXTURE)["request"]
    assert isinstance(request, list)
    for event in request:
        assert isinstance(event, dict)
        assert not {"traceId", "parentEventId", "durationMs"} & set(event)
