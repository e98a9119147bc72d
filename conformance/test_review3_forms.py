"""The replay checks what the fixture's sentinels stand for, and the headers no entry lists.

A sentinel (`<id>`, `<ts>`, ...) stands only for a value of the contract's form (general rules:
prefixed ids, ISO-8601 UTC timestamps with microseconds), and a request carrying a header its
entry does not list (a second credential, a content type without a body, a gzip encoding under
the threshold) does not match. Then the legacy org key's requests (§ general rules, auth) are
replayed through the public API, sync and async: `X-Ingest-Key` alone, no token call.
"""

from __future__ import annotations

import asyncio
import json

import pytest

import tracengent
from conformance.replay import (
    GZIP_THRESHOLD_BYTES,
    RecordedRequest,
    Recorder,
    entry,
    fixture_options,
    load_fixture,
    make_jwt,
    normalize,
    produced_and_expected,
)
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue

FIXTURE = load_fixture()
INGEST_KEY = "agk_billing"
USER_AGENT = "tracengent-python/1.2.3"


def recorded(
    name: str, headers: dict[str, str], body: JsonValue | bytes | None = None
) -> RecordedRequest:
    """A request to entry `name`'s path, as the recorder would hold it."""
    item = entry(name, FIXTURE)
    if body is None:
        body = item.get("request")
    raw = body if isinstance(body, bytes) else json.dumps(body).encode() if body else b""
    return RecordedRequest(str(item["method"]), str(item["path"]), headers, raw, False)


def matches(request: RecordedRequest, name: str) -> bool:
    produced, expected = produced_and_expected(request, entry(name, FIXTURE))
    return produced == expected


BEARER = {"Authorization": f"Bearer {make_jwt({'sub': 'k'})}", "User-Agent": USER_AGENT}
JSON_BEARER = {**BEARER, "Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("eventId", "trc_1"),
        ("eventId", "evt_"),
        ("parentEventId", "1"),
        ("traceId", "evt_1"),
        ("traceId", ""),
        ("idempotencyKey", ""),
        ("occurredAt", "2026-11-24T10:15:02+00:00"),
        ("occurredAt", "2026-11-24T10:15:02.123456Z"),
        ("occurredAt", "2026-11-24T12:15:02.123456+02:00"),
        ("occurredAt", "2026-11-24T10:15:02.123+00:00"),
        ("durationMs", "12"),
        ("durationMs", True),
        ("durationMs", -1),
        ("access_token", "not a jwt"),
        ("accessToken", None),
    ],
)
def test_a_value_not_of_the_contracts_form_is_not_its_sentinel(key: str, value: JsonValue) -> None:
    assert normalize({key: value}) == {key: value}


@pytest.mark.parametrize(
    ("key", "value", "sentinel"),
    [
        ("eventId", "evt_0a", "<id>"),
        ("parentEventId", "evt_x", "<id>"),
        ("traceId", "trc_0a", "<id>"),
        ("idempotencyKey", "r-1001", "<id>"),
        ("occurredAt", "2026-11-24T10:15:02.123456+00:00", "<ts>"),
        ("durationMs", 0, "<duration>"),
        ("durationMs", 12.5, "<duration>"),
        ("access_token", make_jwt({"sub": "k"}), "<jwt>"),
    ],
)
def test_a_value_of_the_contracts_form_is_its_sentinel(
    key: str, value: JsonValue, sentinel: str
) -> None:
    assert normalize({key: value}) == {key: sentinel}


def test_the_fixtures_own_request_matches() -> None:
    """Sanity: the checks below fail for what they add, not for the entry itself."""
    body = entry("authorize_pending", FIXTURE)["request"]
    assert matches(recorded("authorize_pending", JSON_BEARER, body), "authorize_pending")
    assert matches(recorded("approval_status", BEARER), "approval_status")


def test_a_second_credential_does_not_match() -> None:
    """Client credentials are preferred: the org key is not sent with the bearer token."""
    headers = {**JSON_BEARER, "X-Ingest-Key": INGEST_KEY}
    assert not matches(recorded("authorize_pending", headers), "authorize_pending")


def test_a_content_type_without_a_body_does_not_match() -> None:
    headers = {**BEARER, "Content-Type": "application/json"}
    assert not matches(recorded("approval_status", headers), "approval_status")


def test_gzip_is_expected_at_the_threshold_and_only_there() -> None:
    small = recorded("authorize_pending", {**JSON_BEARER, "Content-Encoding": "gzip"})
    assert not matches(small, "authorize_pending")
    large_body: JsonObject = {
        "permission": "payments:refund",
        "context": {"note": "x" * GZIP_THRESHOLD_BYTES},
    }
    plain = recorded("authorize_pending", JSON_BEARER, large_body)
    produced, expected = produced_and_expected(plain, entry("authorize_pending", FIXTURE))
    assert produced["headers"] != expected["headers"]
    gzipped = recorded("authorize_pending", {**JSON_BEARER, "Content-Encoding": "gzip"}, large_body)
    produced, expected = produced_and_expected(gzipped, entry("authorize_pending", FIXTURE))
    assert produced["headers"] == expected["headers"]


# --- the legacy org key, through the public API ------------------------------------------------


def org_key_headers(name: str) -> JsonObject:
    """Entry `name`'s headers as an org-key client must send them: `x-ingest-key`, no bearer."""
    headers = entry(name, FIXTURE)["headers"]
    assert isinstance(headers, dict)
    swapped: JsonObject = {k: v for k, v in headers.items() if k != "authorization"}
    swapped["x-ingest-key"] = INGEST_KEY
    return swapped


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_org_key_client_sends_x_ingest_key_alone(mode: str) -> None:
    names = ["authorize_pending", "approval_status", "ingest_events_standalone"]
    recorder = Recorder.for_fixture(FIXTURE, names=names)
    recorder.answer("/v1/authorize", 200, {"allowed": True, "status": "allowed", "reason": "ok"})
    options = fixture_options(FIXTURE, client_id=None, client_secret=None, ingest_key=INGEST_KEY)
    client = tracengent.TracengentClient(options, transport=recorder.transport())
    context: JsonObject = {"amount": 900, "currency": "USD"}
    if mode == "sync":
        decision = client.authorize("payments:refund", context)
        approval = client.wait_for_approval("payments:refund", "apr_3")
    else:

        async def both() -> tuple[tracengent.AuthDecision, tracengent.AuthDecision]:
            first = await client.authorize_async("payments:refund", context)
            return first, await client.wait_for_approval_async("payments:refund", "apr_3")

        decision, approval = asyncio.run(both())
    client.record(
        tracengent.AgentEvent(
            name="issue-invoice",
            type=tracengent.EventTypes.ACTION,
            cost=tracengent.Money(42.5),
        )
    )
    assert client.close()
    assert (decision.allowed, approval.allowed) == (True, True)
    assert recorder.to("/v1/oauth/token") == []
    for name in names:
        item = entry(name, FIXTURE)
        [request] = recorder.to(str(item["path"]))
        produced, expected = produced_and_expected(
            request, {**item, "headers": org_key_headers(name)}
        )
        assert produced["headers"] == expected["headers"], name
        assert request.headers["x-ingest-key"] == INGEST_KEY
