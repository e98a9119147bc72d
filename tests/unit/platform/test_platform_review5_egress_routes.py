"""Egress route paths and methods in a policy: one no request could match (a query in the path,
an OpenAPI `{id}`, a method with a space, an empty method list) is refused at load, never a route
that silently governs nothing (under `unmatched_routes = "allow"`: an unchecked allow)."""

from __future__ import annotations

import pytest

from tracengent.platform import PolicyError, parse_policy

_POLICY = """
[[agents]]
id = "a"
permissions = ["payments:refund"]

[egress]
allowlist = ["api.example.com"]
unmatched_routes = "allow"

[[egress.routes]]
host = "api.example.com"
permission = "payments:refund"
approval = true
"""


@pytest.mark.parametrize(
    "path",
    [
        "/v1/items/{id}",
        "/v1/items/[id]",
        "/v1/search?q=*",
        "/v1/page#top",
        "/v1/a%2Fb",
        "/v1\\refunds",
    ],
)
def test_a_path_no_request_could_match_is_refused(path: str) -> None:
    """The SDK sends the path decoded and without its query: `{id}`, `?q=*` or `%2F` in a route
    would never match, so the route would govern nothing."""
    text = _POLICY + f"path = {path!r}\n"
    with pytest.raises(PolicyError, match=r"'egress\.routes\[0\]\.path'"):
        parse_policy(text)


@pytest.mark.parametrize("methods", ['[" POST"]', '["GET,POST"]', '["GET POST"]', "[]"])
def test_a_method_list_no_request_could_match_is_refused(methods: str) -> None:
    """A method with a space or comma is no HTTP method; an empty list would match none (not
    any: that is the default when `methods` is left out)."""
    with pytest.raises(PolicyError, match=r"'egress\.routes\[0\]\.methods'"):
        parse_policy(_POLICY + f"methods = {methods}\n")


@pytest.mark.parametrize(
    ("line", "method", "path"),
    [
        ('path = "/v1/items/*"', "GET", "/v1/items/42"),
        ('path = "/v1/refunds"', "POST", "/v1/refunds"),
        ('methods = ["post", "Head"]', "HEAD", "/anything"),
        ('methods = ["*"]', "OPTIONS", "/"),
    ],
)
def test_a_route_that_can_match_still_loads(line: str, method: str, path: str) -> None:
    """Globs with `*`, lower-case methods and `*` for any method load and match as before."""
    egress = parse_policy(_POLICY + line + "\n").egress
    route = egress.route_for(method, "api.example.com", path)
    assert route is not None
    assert route.permission == "payments:refund"
