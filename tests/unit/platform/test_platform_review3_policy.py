"""Policy loading: a rule restricted to an agent the policy does not define is refused."""

from __future__ import annotations

import pytest

from tracengent.platform import PolicyError, parse_policy

_POLICY = """
[[agents]]
id = "demo-agent"
permissions = ["payments:refund"]

[[rules]]
permission = "payments:refund"
agents = [{agents}]
max_amount = 100
"""


def test_a_rule_naming_an_unknown_agent_is_refused() -> None:
    """`agents = ["demo-agnet"]` (a typo) would make the cap apply to nobody, so the refunds it
    was written to limit would go through uncapped: the policy is refused, naming the key."""
    with pytest.raises(PolicyError, match=r"'rules\[0\]\.agents'.*'demo-agnet'"):
        parse_policy(_POLICY.replace("{agents}", '"demo-agent", "demo-agnet"'))


def test_a_rule_naming_known_agents_is_kept() -> None:
    """A rule restricted to defined agents loads and applies to them only."""
    policy = parse_policy(_POLICY.replace("{agents}", '"demo-agent"'))
    assert policy.rule_for("payments:refund", "demo-agent") is not None
    assert policy.rule_for("payments:refund", "other") is None


def test_a_tool_bound_twice_is_refused() -> None:
    """Two bindings of one function (the second requiring approval) were read first-wins, the
    second silently ignored: the policy is refused naming the duplicate."""
    text = """
[[agents]]
id = "a"

[[tools]]
transport = "function"
name = "send_email"
permission = "mail:send"

[[tools]]
transport = "function"
name = "send_email"
permission = "mail:send"
approval = true
"""
    with pytest.raises(PolicyError, match=r"'tools\[1\]\.name'.*'send_email'"):
        parse_policy(text)
    # The same name under the other transport is another tool.
    parse_policy(text.replace('transport = "function"', 'transport = "mcp"', 1))
