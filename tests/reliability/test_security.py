"""Nothing sensitive leaves by accident, under the public API, against loopback servers.

Forged and expired JWTs, and the delegation subset invariant, are enforced by the local platform:
see tests/integration/platform/test_auth.py (`test_forged_token_gets_401`,
`test_expired_token_gets_401`) and tests/integration/platform/test_delegation.py
(`test_attenuate_beyond_the_parent_is_403`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.support.chaos import TOKEN_PATH, Answer, ChaosServer, chaos_server, sequence
from tracengent import (
    MASK_TOKEN,
    AgentEvent,
    EventTypes,
    TracengentClient,
    governed_client,
    tracked_client,
)

from .conftest import chaos_options

USER_SECRET = "Bearer user-owned-tool-secret"
COOKIE_SECRET = "session=user-cookie-secret"
PAYLOAD_SECRET = "payload-secret-4242"


@pytest.fixture
def tool_server() -> Iterator[ChaosServer]:
    """A third-party tool server (answers 200 to anything)."""
    with chaos_server() as server:
        yield server


def _everything_sent(server: ChaosServer) -> str:
    """Every header and body the server received, as one text."""
    return "\n".join(
        f"{e.received.headers!r} {e.received.body.decode('utf-8', 'replace')}"
        for e in server.exchanges
    )


@pytest.mark.parametrize("credentials", ["client_credentials", "ingest_key"])
def test_no_agent_credential_reaches_a_tool_server(
    chaos: ChaosServer, tool_server: ChaosServer, credentials: str
) -> None:
    """Tracked and governed calls to a third party never carry our Bearer token or ingest key."""
    overrides: dict[str, object] = {}
    if credentials == "ingest_key":
        overrides = {"client_id": None, "client_secret": None, "ingest_key": "agk_chaos_key"}
    with (
        TracengentClient(chaos_options(chaos.url, **overrides)) as client,
        client.begin_trace("pay a supplier"),
    ):
        with tracked_client(client) as http:
            http.get(tool_server.url + "/tracked")
        with governed_client(client) as http:
            http.get(tool_server.url + "/governed")
    agent_token_requests = chaos.to(TOKEN_PATH)
    assert len(tool_server.exchanges) == 2
    # The agent's credential was in use (the governed call asked the platform with it), so its
    # absence from the tool server's requests means something.
    (asked,) = chaos.to("/v1/tool-authorize")
    platform_headers = asked.received.headers
    if credentials == "ingest_key":
        assert platform_headers["x-ingest-key"] == "agk_chaos_key"
    else:
        assert platform_headers["authorization"].startswith("Bearer ")
    sent_to_tool = _everything_sent(tool_server)
    assert "agk_chaos_key" not in sent_to_tool
    assert "ags_chaos_secret" not in sent_to_tool
    for exchange in tool_server.exchanges:
        assert "x-ingest-key" not in exchange.received.headers
        assert "authorization" not in exchange.received.headers
    assert (credentials == "client_credentials") == bool(agent_token_requests)


def test_governed_call_credentials_never_reach_the_platform(
    chaos: ChaosServer, tool_server: ChaosServer
) -> None:
    """A governed call's Authorization, Proxy-Authorization and Cookie are not sent to the platform."""
    with TracengentClient(chaos_options(chaos.url)) as client, governed_client(client) as http:
        response = http.post(
            tool_server.url + "/v1/refunds",
            json={"amount": 5},
            headers={
                "Authorization": USER_SECRET,
                "Proxy-Authorization": USER_SECRET,
                "Cookie": COOKIE_SECRET,
            },
        )
    assert response.status_code == 200
    # The tool got its own credentials; the platform saw none of them.
    assert tool_server.exchanges[0].received.headers["authorization"] == USER_SECRET
    sent_to_platform = _everything_sent(chaos)
    assert "user-owned-tool-secret" not in sent_to_platform
    assert "user-cookie-secret" not in sent_to_platform
    assert chaos.to("/v1/tool-authorize")


def test_payload_capture_off_means_no_payload_in_any_exporter(chaos: ChaosServer) -> None:
    """With capture off, neither a user's InMemorySpanExporter nor the platform sees a payload."""
    memory = InMemorySpanExporter()
    with TracengentClient(chaos_options(chaos.url, capture_payloads=False)) as client:
        client.tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
        with client.begin_trace("refund order 7") as trace:
            trace.step("looked it up", {"card": PAYLOAD_SECRET})
            trace.track_tool_call("lookup", lambda: {"card": PAYLOAD_SECRET}, input=PAYLOAD_SECRET)
            trace.record(
                AgentEvent(
                    name="refund",
                    type=EventTypes.ACTION,
                    input={"c": PAYLOAD_SECRET},
                    output=PAYLOAD_SECRET,
                    attributes={"c": PAYLOAD_SECRET},
                )
            )
    spans = memory.get_finished_spans()
    assert spans
    for span in spans:
        assert PAYLOAD_SECRET not in repr(dict(span.attributes or {}))
    assert len(chaos.acknowledged_events()) >= 3
    assert PAYLOAD_SECRET not in _everything_sent(chaos)


def test_a_failed_redaction_drops_the_value_rather_than_leaking_it(chaos: ChaosServer) -> None:
    """A payload that cannot be scrubbed (an object JSON cannot encode beside a password) is
    left out entirely."""
    memory = InMemorySpanExporter()
    with TracengentClient(chaos_options(chaos.url)) as client:
        client.tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
        client.record(
            AgentEvent(
                name="login",
                type=EventTypes.ACTION,
                input={"password": "hunter2-secret", "score": object()},  # type: ignore[dict-item]
            )
        )
        client.record(
            AgentEvent(name="login2", type=EventTypes.ACTION, input={"password": "hunter2-secret"})
        )
        omitted = client.delivery_stats["payloads_omitted"]
    assert omitted == 1
    # Both events arrived: the unscrubbable input left out, the other one masked.
    delivered = {str(event["name"]): event for event in chaos.acknowledged_events()}
    assert set(delivered) == {"login", "login2"}
    assert "input" not in delivered["login"]
    assert delivered["login2"]["input"] == {"password": MASK_TOKEN}
    assert "hunter2-secret" not in _everything_sent(chaos)
    for span in memory.get_finished_spans():
        assert "hunter2-secret" not in repr(dict(span.attributes or {}))


def test_a_tool_decisions_redactions_apply_before_the_call_leaves(
    chaos: ChaosServer, tool_server: ChaosServer
) -> None:
    """An allow with a redaction: the tool receives the body without the redacted field."""
    allow = {
        "allowed": True,
        "status": "allowed",
        "reason": "ok",
        "redactions": [{"field": "$.card", "strategy": "remove"}],
    }
    chaos.on("/v1/tool-authorize", sequence(then=Answer(body=allow)))
    with TracengentClient(chaos_options(chaos.url)) as client, governed_client(client) as http:
        http.post(tool_server.url + "/charge", json={"card": PAYLOAD_SECRET, "amount": 3})
    assert tool_server.exchanges[0].received.json() == {"amount": 3}
