"""A rule or route that can never apply, because an earlier one (first match wins) covers every
request it would, is refused at load: its limits (a lower cap, an approval) would silently not
apply, as a second binding of one tool is refused."""

from __future__ import annotations

import pytest

from tracengent.platform import PolicyError, parse_policy

_AGENTS = """
[[agents]]
id = "a"
permissions = ["payments:*"]

[[agents]]
id = "b"
permissions = ["payments:*"]
"""


def _rules(first: str, second: str) -> str:
    return f"{_AGENTS}\n[[rules]]\n{first}\nmax_amount = 5000\n\n[[rules]]\n{second}\nmax_amount = 100\n"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ('permission = "payments:*"', 'permission = "payments:refund"'),
        ('permission = "*"', 'permission = "payments:refund"'),
        ('permission = "payments:refund"', 'permission = "payments:refund"'),
        ('permission = "payments:*"', 'permission = "payments:card:*"'),
        ('permission = "payments:*"', 'permission = "payments:refund"\nagents = ["a"]'),
        (
            'permission = "payments:refund"\nagents = ["a", "b"]',
            'permission = "payments:refund"\nagents = ["b"]',
        ),
    ],
)
def test_a_rule_an_earlier_rule_covers_is_refused(first: str, second: str) -> None:
    """`payments:*` (cap 5000) before `payments:refund` (cap 100): refunds got the 5000 cap and
    the narrower rule was silently dead; the policy is refused naming it and the earlier rule."""
    with pytest.raises(PolicyError, match=r"'rules\[1\]\.permission'.*rules\[0\]"):
        parse_policy(_rules(first, second))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ('permission = "payments:refund"', 'permission = "payments:*"'),
        ('permission = "payments:refund"\nagents = ["a"]', 'permission = "payments:refund"'),
        ('permission = "payments:card:*"', 'permission = "payments:*"'),
        ('permission = "payments:*"\nagents = ["a"]', 'permission = "payments:refund"'),
    ],
)
def test_a_narrower_rule_first_is_kept(first: str, second: str) -> None:
    """The narrower rule first, then the broader one for the rest: both apply."""
    policy = parse_policy(_rules(first, second))
    assert len(policy.rules) == 2


_ROUTES = """
[[agents]]
id = "a"
permissions = ["payments:refund"]

[egress]
allowlist = ["api.example.com"]

[[egress.routes]]
host = "api.example.com"
path = "/v1/refunds"
permission = "payments:refund"
{first}

[[egress.routes]]
host = "api.example.com"
path = "/v1/refunds"
permission = "payments:refund"
approval = true
{second}
"""


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("", ""),
        ("", 'methods = ["POST"]'),
        ('methods = ["post", "GET"]', 'methods = ["POST"]'),
    ],
)
def test_a_route_an_earlier_route_covers_is_refused(first: str, second: str) -> None:
    """The same host and path, each of its methods already routed: the second route (with its
    approval) would never apply."""
    with pytest.raises(PolicyError, match=r"'egress\.routes\[1\]'.*egress\.routes\[0\]"):
        parse_policy(_ROUTES.format(first=first, second=second))


def test_a_route_for_other_methods_is_kept() -> None:
    """`GET` then `POST` of one path: each method has its route."""
    policy = parse_policy(_ROUTES.format(first='methods = ["GET"]', second='methods = ["POST"]'))
    assert len(policy.egress.routes) == 2
