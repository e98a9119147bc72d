"""Permissions in a policy: a pattern the matcher would never match as written (`payments*`, a
space, `*` mid-pattern) is refused at load. In a rule it would cover nothing, so the limits the
rule was written for (a cap, an approval threshold, redactions) silently would not apply."""

from __future__ import annotations

import pytest

from tracengent.platform import PolicyError, parse_policy

_AGENT = '[[agents]]\nid = "a"\npermissions = ["payments:refund"]\n'

_MALFORMED = ["payments*", "payments:refund ", " payments:refund", "payments:*:x", "*:refund", ":*"]


@pytest.mark.parametrize("pattern", _MALFORMED)
def test_a_rule_with_a_malformed_pattern_is_refused(pattern: str) -> None:
    """`permission = "payments*"` covered no request (only `*`, an exact permission and `ns:*`
    match), so refunds went through with no cap: the policy is refused naming the key."""
    text = _AGENT + f'[[rules]]\npermission = "{pattern}"\nmax_amount = 10\n'
    with pytest.raises(PolicyError, match=r"'rules\[0\]\.permission'"):
        parse_policy(text)


@pytest.mark.parametrize("pattern", _MALFORMED)
def test_an_agent_with_a_malformed_pattern_is_refused(pattern: str) -> None:
    """An agent's pattern that can match nothing is a typo, refused rather than a silent deny."""
    with pytest.raises(PolicyError, match=r"'agents\[0\]\.permissions'"):
        parse_policy(f'[[agents]]\nid = "a"\npermissions = ["x:y", "{pattern}"]\n')


@pytest.mark.parametrize("permission", ["flights:*", "*", "flights:search "])
def test_a_bound_permission_must_be_one_permission(permission: str) -> None:
    """A tool or route is bound to the one permission its call needs, not to a pattern."""
    tool = f'[[tools]]\ntransport = "mcp"\nname = "t"\npermission = "{permission}"\n'
    with pytest.raises(PolicyError, match=r"'tools\[0\]\.permission'"):
        parse_policy(_AGENT + tool)
    route = (
        f'[egress]\nallowlist = ["h"]\n[[egress.routes]]\nhost = "h"\npermission = "{permission}"\n'
    )
    with pytest.raises(PolicyError, match=r"'egress\.routes\[0\]\.permission'"):
        parse_policy(_AGENT + route)


def test_well_formed_patterns_load() -> None:
    """`*`, `ns:*`, `ns:sub:*` and exact permissions load and match as wire contract §9 says."""
    policy = parse_policy(
        '[[agents]]\nid = "a"\npermissions = ["*", "payments:*", "a:b:*", "mail:send"]\n'
        '[[rules]]\npermission = "payments:*"\nmax_amount = 10\n'
        '[[rules]]\npermission = "*"\nmax_amount = 5\n'
    )
    assert policy.rule_for("payments:refund", "a") is policy.rules[0]
    assert policy.rule_for("mail:send", "a") is policy.rules[1]
