"""A platform answer's body is kept only up to `MAX_ANSWER_BYTES` once decoded (sync and async):
a compressed answer (or a token answer) that would inflate past it is read as an answer that
cannot be decoded, so the call decides on its status alone and memory stays bounded; a small
compressed answer is read as before."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from opentelemetry.exporter.tracengent._bounded_body import MAX_ANSWER_BYTES
from opentelemetry.exporter.tracengent.errors import MalformedResponseError, PlatformError
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import DeliveryResult
from opentelemetry.exporter.tracengent.wire import ToolDecision

from .conftest import EVENT, EVENTS_PATH, TOKEN_PATH, HarnessFactory, Script

TOOL_PATH = "/v1/tool-authorize"
TOOL_ALLOW = {"allowed": True, "status": "allowed", "outcome": "policy_allow", "reason": "ok"}
# 64 MiB of JSON whitespace around a decision: about 64 KiB once gzipped.
_BOMB_SIZE = 64 * MAX_ANSWER_BYTES


def ingest_key_options() -> TracengentOptions:
    return TracengentOptions(agent_id="billing-agent", ingest_key="ik_test")


def gzipped(status: int, body: bytes) -> httpx.Response:
    return httpx.Response(
        status,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        stream=httpx.ByteStream(gzip.compress(body, compresslevel=9)),
    )


def bomb(status: int) -> httpx.Response:
    """A decision padded with whitespace: valid JSON, tiny on the wire, 64 MiB decoded."""
    return gzipped(status, json.dumps(TOOL_ALLOW).encode() + b" " * _BOMB_SIZE)


async def test_an_inflating_governance_answer_is_malformed_and_denies(
    script: Script, harness: HarnessFactory
) -> None:
    """An allow that inflates past the bound is never read whole, let alone taken."""
    script.on(TOOL_PATH, lambda _: bomb(200))
    h = harness(ingest_key_options())
    with pytest.raises(MalformedResponseError) as caught:
        await h.call("tool_authorize", {"transport": "mcp", "toolName": "t"})
    assert caught.value.status_code == 200
    assert "more than" in str(caught.value)


async def test_a_plain_answer_past_the_bound_is_malformed(
    script: Script, harness: HarnessFactory
) -> None:
    """Without a content coding the same bound holds, counted as the bytes arrive."""
    padded = json.dumps(TOOL_ALLOW).encode() + b" " * (MAX_ANSWER_BYTES + 1)
    script.on(TOOL_PATH, lambda _: httpx.Response(200, stream=httpx.ByteStream(padded)))
    h = harness(ingest_key_options())
    with pytest.raises(MalformedResponseError):
        await h.call("tool_authorize", {"transport": "mcp", "toolName": "t"})


async def test_a_small_compressed_answer_is_read_as_before(
    script: Script, harness: HarnessFactory
) -> None:
    script.on(TOOL_PATH, lambda _: gzipped(200, json.dumps(TOOL_ALLOW).encode()))
    h = harness(ingest_key_options())
    decision = await h.call("tool_authorize", {"transport": "mcp", "toolName": "t"})
    assert isinstance(decision, ToolDecision)
    assert decision.allowed


async def test_an_inflating_2xx_ingest_answer_still_acknowledges_the_batch(
    script: Script, harness: HarnessFactory
) -> None:
    script.on(EVENTS_PATH, lambda _: bomb(200))
    h = harness(ingest_key_options())
    result = await h.call("post_events", [EVENT, EVENT])
    assert result == DeliveryResult(2, 0, 0, None, 200)


async def test_an_inflating_token_answer_is_refused(
    script: Script, harness: HarnessFactory
) -> None:
    """A token endpoint's answer past the bound gives no token: the governance call fails
    closed, never with a token read out of it."""
    token = {"access_token": "a.b.c", "token_type": "Bearer", "expires_in": 900}
    script.on(TOKEN_PATH, lambda _: gzipped(200, json.dumps(token).encode() + b" " * _BOMB_SIZE))
    script.on(TOOL_PATH, lambda _: httpx.Response(200, json=TOOL_ALLOW))
    h = harness()
    with pytest.raises(PlatformError):
        await h.call("tool_authorize", {"transport": "mcp", "toolName": "t"})
    assert script.to(TOOL_PATH) == []
