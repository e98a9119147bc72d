"""Review 2, against the real local platform with a policy routing `xn--bcher-kva.example`: a
request to that host, written in either form, is decided on the wire host and allowed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tracengent import TracengentClient
from tracengent.platform._defaults import DEFAULT_POLICY_TOML
from tracengent.platform._policy import Policy, parse_policy
from tracengent.testing import RunningPlatform

from .test_egress_review import ToolServer, _send, tool_server

__all__ = ["tool_server"]

ROUTE = """
[[egress.routes]]
host = "xn--bcher-kva.example"
methods = ["GET"]
path = "/*"
permission = "flights:search"
"""


@pytest.fixture
def tracengent_policy() -> Policy:
    """The built-in policy, with `xn--bcher-kva.example` allowlisted and routed."""
    allowlist = 'allowlist = ["api.example.com",'
    assert allowlist in DEFAULT_POLICY_TOML
    toml = DEFAULT_POLICY_TOML.replace(
        allowlist, 'allowlist = ["xn--bcher-kva.example", "api.example.com",'
    )
    return parse_policy(toml + ROUTE, source="review2")


@pytest.fixture
async def idna_client(tracengent_platform: RunningPlatform) -> AsyncIterator[TracengentClient]:
    """`demo-agent`'s client, governing `xn--bcher-kva.example`."""
    opened = TracengentClient(
        tracengent_platform.options(governed_hosts=["xn--bcher-kva.example"], max_retries=0)
    )
    yield opened
    await opened.aclose(timeout=5)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    "url", ["http://xn--bcher-kva.example/books", "http://bücher.example/books"]
)
async def test_idna_host_is_decided_on_its_wire_form(
    tracengent_platform: RunningPlatform,
    idna_client: TracengentClient,
    tool_server: ToolServer,
    mode: str,
    url: str,
) -> None:
    """Allowed by the route (not `egress_deny`), and the tool server receives the request."""
    response = await _send(mode, idna_client, tool_server, "GET", url)
    assert response.status_code == 200
    (decision,) = tracengent_platform.store.decisions()
    assert decision.status == "allowed"
    assert decision.request["host"] == "xn--bcher-kva.example"
    assert len(tool_server.received) == 1
