"""Under `unmatched_routes = "allow"`, a path that reaches a route's resource only once its `.`
and `..` segments are resolved (as every server resolves them), or its segments' `;` parameters
dropped (as Servlet containers route them), gets that route, not an unchecked allow: a client
that sends `/v1/./refunds` or `/v1/refunds;x` must not skip the refunds approval."""

from __future__ import annotations

import pytest

from tracengent.platform import parse_policy

_POLICY = """
[[agents]]
id = "a"
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


@pytest.mark.parametrize(
    "path",
    [
        "/v1/./refunds",
        "/v1/x/../refunds",
        "/./v1/refunds",
        "/v1/refunds/.",
        "/../v1//./Refunds/",
        "/v1/refunds;x",
        "/v1;a=b/refunds;jsessionid=1/",
        "/v1/x;y/../refunds",
    ],
)
def test_a_dot_segment_path_gets_the_route_it_reaches(path: str) -> None:
    route = parse_policy(_POLICY).egress.route_for("POST", "api.example.com", path)
    assert route is not None
    assert (route.path, route.approval) == ("/v1/refunds", True)


@pytest.mark.parametrize(
    "path", ["/v1/refunds/../payouts", "/v1/refunds2", "/v1/x/refunds", "/v1/refunds;x/payouts"]
)
def test_a_path_reaching_another_resource_gets_no_route(path: str) -> None:
    assert parse_policy(_POLICY).egress.route_for("POST", "api.example.com", path) is None
