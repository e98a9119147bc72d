"""A platform (or whatever answers at its address) whose answer inflates past `MAX_ANSWER_BYTES`
once decompressed: a gzip body of about 64 KiB standing for 64 MiB. Over real loopback sockets,
through the default transports: the governed request is denied before it leaves (the allow in
the answer is never taken), and telemetry still counts the batch the platform acknowledged."""

from __future__ import annotations

import gzip
import json

import pytest

from opentelemetry.exporter.tracengent._bounded_body import MAX_ANSWER_BYTES
from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import PlatformClient
from tests.support.loopback import Received, Reply, json_reply, serve
from tracengent import TracengentClient, governed_client

_ALLOW = {"allowed": True, "status": "allowed", "outcome": "policy_allow", "reason": "ok"}


def _inflating(value: object) -> Reply:
    body = json.dumps(value).encode() + b" " * (64 * MAX_ANSWER_BYTES)
    return Reply(body=gzip.compress(body, compresslevel=9), content_encoding="gzip")


def _platform(received: Received) -> Reply:
    if received.path in ("/v1/authorize", "/v1/tool-authorize", "/v1/ingest/events"):
        return _inflating(_ALLOW if "authorize" in received.path else {"accepted": 1})
    return json_reply({})


def _options(url: str) -> TracengentOptions:
    return TracengentOptions(
        agent_id="billing-agent",
        base_url=url,
        ingest_key="agk_test",
        governance_timeout_s=5.0,
        flush_interval_ms=60_000,
    )


def test_a_governed_request_is_denied_on_an_inflating_allow() -> None:
    with serve(_platform) as platform, serve(lambda _: json_reply({})) as tools:
        client = TracengentClient(_options(platform.url))
        try:
            with governed_client(client) as http, pytest.raises(ToolDeniedException) as caught:
                http.post(f"{tools.url}/v1/refunds", json={"order": 42})
        finally:
            client.close(timeout=5)
    assert "more than" in str(caught.value)
    assert tools.received == []


def test_an_inflating_ingest_acknowledgement_delivers_the_batch() -> None:
    with serve(_platform) as platform:
        client = PlatformClient(_options(platform.url))
        try:
            result = client.post_events([{"type": "action", "name": "n", "status": "success"}])
        finally:
            client.close()
    assert (result.delivered, result.status_code) == (1, 200)


async def test_an_async_governance_call_is_denied_on_an_inflating_allow() -> None:
    with serve(_platform) as platform:
        client = TracengentClient(_options(platform.url))
        try:
            decision = await client.tools.authorize_function_async("refund", {"order": 42})
        finally:
            await client.aclose()
    assert not decision.allowed
    assert "more than" in (decision.reason or "")
