"""Egress routes with `unmatched_routes = "allow"`: a path a server may route like a governed
route's (a trailing or doubled slash, other letter case) is governed by that route, not let
through unchecked as unmatched."""

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
allowlist = ["api.example.com"]
unmatched_routes = "allow"

[[egress.routes]]
host = "api.example.com"
methods = ["POST"]
path = "/v1/refunds"
permission = "payments:refund"
approval = true
"""


@pytest.fixture
def tracengent_policy() -> Policy:
    """Refunds need a person's approval; other requests to the host are allowed."""
    return parse_policy(_POLICY)


def _decide(platform: RunningPlatform, method: str, path: str) -> dict[str, object]:
    answer = httpx.post(
        f"{platform.url}/v1/tool-authorize",
        json={"transport": "http", "method": method, "host": "api.example.com", "path": path},
        headers={"X-Ingest-Key": "agk_payer"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert isinstance(body, dict)
    return body


@pytest.mark.parametrize(
    "path", ["/v1/refunds", "/v1/refunds/", "/v1//refunds", "//v1/refunds//", "/V1/Refunds"]
)
def test_a_variant_of_a_governed_path_is_governed(
    tracengent_platform: RunningPlatform, path: str
) -> None:
    """Each is held for approval under payments:refund, as the route says."""
    body = _decide(tracengent_platform, "POST", path)
    assert (body["status"], body["outcome"], body.get("permission")) == (
        "pending_approval",
        "approval_required",
        "payments:refund",
    )


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/v1/refunds2"), ("POST", "/v1/refund"), ("GET", "/v1/refunds")]
)
def test_other_requests_stay_unmatched(
    tracengent_platform: RunningPlatform, method: str, path: str
) -> None:
    """Another path or method is still unmatched, so allowed by `unmatched_routes`."""
    body = _decide(tracengent_platform, method, path)
    assert (body["status"], body["outcome"]) == ("allowed", "policy_allow")
    assert "permission" not in body
