"""A platform answer that names a key twice is malformed, never read last-key-wins (review 3).

`{"allowed": false, "allowed": true, "status": "allowed"}` is one decision to a parser that keeps
the first value and another to one that keeps the last (ours did: it allowed). An answer that
can be read two ways is not an unambiguous allow: it raises `MalformedResponseError`, which the
authorizer and the gates turn into a deny. Nested objects (obligations) are held to it too.
"""

from __future__ import annotations

import httpx
import pytest

from opentelemetry.exporter.tracengent.errors import MalformedResponseError
from opentelemetry.exporter.tracengent.wire import AuthDecision

from .conftest import AUTHORIZE_PATH, HarnessFactory, Script

PERMISSION = {"permission": "payments:refund"}
TOOL_PATH = "/v1/tool-authorize"
APPROVAL_PATH = "/v1/approvals/apr_1"

DUPLICATED = [
    b'{"allowed": false, "allowed": true, "status": "allowed"}',
    b'{"allowed": true, "status": "denied", "status": "allowed"}',
    b'{"allowed": true, "status": "allowed", "obligations": {"redactFields": ["card"],'
    b' "redactFields": []}}',
]


@pytest.mark.parametrize("body", DUPLICATED, ids=["allowed", "status", "nested"])
async def test_a_decision_naming_a_key_twice_is_malformed(
    script: Script, harness: HarnessFactory, body: bytes
) -> None:
    script.on(AUTHORIZE_PATH, httpx.Response(200, content=body))
    script.on(TOOL_PATH, httpx.Response(200, content=body))
    h = harness()
    with pytest.raises(MalformedResponseError, match="more than once"):
        await h.call("authorize", PERMISSION)
    with pytest.raises(MalformedResponseError, match="more than once"):
        await h.call("tool_authorize", {"transport": "function", "functionName": "f"})


async def test_an_approval_status_named_twice_is_malformed(
    script: Script, harness: HarnessFactory
) -> None:
    script.on(
        APPROVAL_PATH, httpx.Response(200, content=b'{"status": "denied", "status": "approved"}')
    )
    h = harness()
    with pytest.raises(MalformedResponseError, match="more than once"):
        await h.call("approval_status", "apr_1")


async def test_the_same_key_in_sibling_objects_is_fine(
    script: Script, harness: HarnessFactory
) -> None:
    """Only a key repeated within one object is ambiguous."""
    body = (
        b'{"allowed": true, "status": "allowed", "obligations": {"maxAmount": 5},'
        b' "context": {"maxAmount": 7}}'
    )
    script.on(AUTHORIZE_PATH, httpx.Response(200, content=body))
    h = harness()
    decision = await h.call("authorize", PERMISSION)
    assert isinstance(decision, AuthDecision)
    assert decision.allowed
