"""Egress hosts in a policy: each is read as requests' hosts are compared (lower case, IDNA-ASCII,
no trailing dot), and one no request host could ever match is refused at load, never a route
that silently governs nothing (under `unmatched_routes = "allow"`: an unchecked allow)."""

from __future__ import annotations

import pytest

from tracengent.platform import PolicyError, parse_policy
from tracengent.platform._decide import _policy_host

_AGENT = '[[agents]]\nid = "a"\npermissions = ["payments:refund"]\n'


def _route_policy(host: str) -> str:
    return (
        _AGENT + '[egress]\nallowlist = ["*"]\nunmatched_routes = "allow"\n'
        f'[[egress.routes]]\nhost = "{host}"\npath = "/v1/refunds"\n'
        'permission = "payments:refund"\napproval = true\n'
    )


@pytest.mark.parametrize(
    ("written", "requested"),
    [
        ("bücher.example", "xn--bcher-kva.example"),
        ("*.bücher.example", "api.xn--bcher-kva.example"),
        ("API.Example.com.", "api.example.com"),
        ("[::1]", "::1"),
    ],
)
def test_a_route_host_matches_the_host_as_requests_send_it(written: str, requested: str) -> None:
    """`bücher.example` governs `xn--bcher-kva.example` (the SDK sends the IDNA form), and
    `api.example.com.` governs `api.example.com`: the route applies, not unmatched-allow."""
    egress = parse_policy(_route_policy(written)).egress
    route = egress.route_for("POST", requested, "/v1/refunds")
    assert route is not None
    assert route.permission == "payments:refund"


@pytest.mark.parametrize(
    ("written", "requested"),
    [
        ("bücher.example", "xn--bcher-kva.example"),
        ("API.Example.com.", "api.example.com"),
        ("[::1]", "::1"),
    ],
)
def test_an_allowlisted_host_matches_the_host_as_requests_send_it(
    written: str, requested: str
) -> None:
    """An allowlist entry written in Unicode, upper case or with a trailing dot is that host."""
    egress = parse_policy(_AGENT + f'[egress]\nallowlist = ["{written}"]\n').egress
    assert egress.is_allowed_host(requested)
    assert not egress.is_allowed_host("other.example")


@pytest.mark.parametrize(
    ("host", "named"),
    [
        ("api.example.com:443", "port"),
        ("https://api.example.com", "scheme"),
        ("api.example.com/v1", "path"),
        ("user@api.example.com", "'user@api.example.com'"),
        ("api example.com", "'api example.com'"),
        ("bü*.example", "'bü*.example'"),
        ("\u00e9-.example", "IDNA"),
        ("api..example.com", "'api..example.com'"),
    ],
)
def test_a_host_no_request_could_match_is_refused(host: str, named: str) -> None:
    """A route or allowlist host with a port, scheme or path (requests' hosts are compared
    without them), or one that is no host name, is refused naming the key."""
    with pytest.raises(PolicyError, match=r"'egress\.routes\[0\]\.host'") as caught:
        parse_policy(_route_policy(host))
    assert named in str(caught.value)
    with pytest.raises(PolicyError, match=r"'egress\.allowlist'") as caught:
        parse_policy(_AGENT + f'[egress]\nallowlist = ["ok.example", "{host}"]\n')
    assert named in str(caught.value)


@pytest.mark.parametrize("written", ["[2001:db8::1]", "2001:db8:0:0::1", "[2001:DB8:0000::0001]"])
@pytest.mark.parametrize("requested", ["2001:db8::1", "[2001:db8:0:0::1]:8443", "2001:0db8::0:1"])
def test_an_ipv6_route_matches_each_spelling_of_its_address(written: str, requested: str) -> None:
    """An IPv6 address has many spellings (zeros left out or not), and the SDK sends the one
    the URL has: a route for `[2001:db8::1]` missed `[2001:db8:0:0::1]` (under
    `unmatched_routes = "allow"`: an unchecked allow)."""
    egress = parse_policy(_route_policy(written)).egress
    route = egress.route_for("POST", _policy_host(requested.lower()), "/v1/refunds")
    assert route is not None
