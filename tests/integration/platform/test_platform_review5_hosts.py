"""Egress hosts as a request may spell them: a governed route applies to its host however the
request writes it (letter case, a port, IPv6 brackets, the trailing dot of a fully qualified name),
so another spelling of the same server is never an unmatched, unchecked request."""

from __future__ import annotations

import httpx
import pytest

from tracengent.platform import Policy, parse_policy
from tracengent.testing import RunningPlatform

_POLICY = """
[[agents]]
id = "payer"
ingest_key = "agk_payer"
permissions = ["payments:refund"]

[egress]
allowlist = ["*"]
unmatched_routes = "allow"

[[egress.routes]]
host = "api.example.com"
methods = ["POST"]
path = "/v1/refunds"
permission = "payments:refund"
approval = true

[[egress.routes]]
host = "bücher.example"
methods = ["POST"]
path = "/v1/refunds"
permission = "payments:refund"
approval = true

[[egress.routes]]
host = "::1"
methods = ["POST"]
path = "/v1/refunds"
permission = "payments:refund"
approval = true
"""


@pytest.fixture
def tracengent_policy() -> Policy:
    """Every host may be called; refunds on three hosts need a person's approval."""
    return parse_policy(_POLICY)


def _decide(platform: RunningPlatform, host: str) -> dict[str, object]:
    answer = httpx.post(
        f"{platform.url}/v1/tool-authorize",
        json={"transport": "http", "method": "POST", "host": host, "path": "/v1/refunds"},
        headers={"X-Ingest-Key": "agk_payer"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert isinstance(body, dict)
    return body


@pytest.mark.parametrize(
    "host",
    [
        "api.example.com",
        "API.Example.COM",
        "api.example.com:443",
        "api.example.com:",
        "api.example.com.",
        "api.example.com.:8443",
        "::1",
        "[::1]",
        "[::1]:8080",
        "xn--bcher-kva.example",
        "bücher.example",
        "BÜCHER.example.:443",
    ],
)
def test_each_spelling_of_a_governed_host_gets_its_route(
    tracengent_platform: RunningPlatform, host: str
) -> None:
    """`api.example.com.` (a fully qualified name), `[::1]:8080` or `bücher.example` (not in its
    IDNA form) reach the route's server: they are held for approval as the route says, not
    allowed as requests no route matches."""
    body = _decide(tracengent_platform, host)
    assert (body["status"], body["outcome"], body.get("permission")) == (
        "pending_approval",
        "approval_required",
        "payments:refund",
    )


def test_another_host_stays_unmatched(tracengent_platform: RunningPlatform) -> None:
    """A host no route names is still allowed by `unmatched_routes = "allow"`."""
    body = _decide(tracengent_platform, "api.example.com.evil.test")
    assert (body["status"], body["outcome"]) == ("allowed", "policy_allow")
