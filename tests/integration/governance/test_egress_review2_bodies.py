"""Review 2, against the real local platform: the amount limit and the `$.card` mask of the
default policy's refund route apply to the document the tool server reads, whatever charset or
Content-Type the body is declared with."""

from __future__ import annotations

import json

import pytest

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from tracengent import TracengentClient

from .test_egress_review import REFUNDS, ToolServer, _send, client, tool_server

__all__ = ["client", "tool_server"]

OVER_LIMIT = b'{"amount":5000,"currency":"EUR","hotel":"ritz"}'


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    ("content", "headers"),
    [
        pytest.param(
            b'{"amount":5000,"currency":"EUR","x":"'
            + rb"\u0022,\u0022amount\u0022:10,\u0022y\u0022:\u0022"
            + b'"}',
            {"Content-Type": "application/json; charset=unicode_escape"},
            id="unicode_escape smuggling amount 10",
        ),
        pytest.param(
            b"\xef\xbb\xbf" + OVER_LIMIT,
            {"Content-Type": "application/json; charset=utf-8"},
            id="BOM under utf-8",
        ),
        pytest.param(
            OVER_LIMIT, {"Content-Type": "application/json; charset=utf8mb4"}, id="utf8mb4"
        ),
        pytest.param(
            OVER_LIMIT, {"Content-Type": "application/json; charset=utf-16"}, id="utf-16 mislabel"
        ),
        pytest.param(OVER_LIMIT, {}, id="no Content-Type"),
        pytest.param(
            OVER_LIMIT,
            [("Content-Type", "application/json"), ("Content-Type", "text/plain")],
            id="two Content-Types",
        ),
    ],
)
async def test_refund_over_the_limit_is_denied_however_declared(
    client: TracengentClient,
    tool_server: ToolServer,
    mode: str,
    content: bytes,
    headers: object,
) -> None:
    """A 5000 EUR refund (the limit is 1000) is denied by the platform's policy, and the tool
    server receives nothing."""
    with pytest.raises(ToolDeniedException) as caught:
        await _send(mode, client, tool_server, "POST", REFUNDS, content=content, headers=headers)
    assert caught.value.outcome == "policy_deny"
    assert tool_server.received == []


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_refund_without_content_type_reaches_the_server_masked(
    client: TracengentClient, tool_server: ToolServer, mode: str
) -> None:
    """A 10 EUR refund without a Content-Type: allowed, and the card arrives masked."""
    content = b'{"amount":10,"currency":"EUR","card":"4242 4242 4242 4242"}'
    await _send(mode, client, tool_server, "POST", REFUNDS, content=content)
    (hop,) = tool_server.received
    assert json.loads(hop.body)["card"] == "***REDACTED***"


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_malformed_refund_is_denied_as_unreadable(
    client: TracengentClient, tool_server: ToolServer, mode: str
) -> None:
    """A JSON-declared body no server can parse is denied (`body_unreadable`), never sent."""
    with pytest.raises(ToolDeniedException) as caught:
        await _send(
            mode,
            client,
            tool_server,
            "POST",
            REFUNDS,
            content=b'{"amount":5000,',
            headers={"Content-Type": "application/json"},
        )
    assert caught.value.outcome in {"body_unreadable", "redaction_unapplicable"}
    assert tool_server.received == []
