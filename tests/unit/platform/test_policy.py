"""The policy loader: valid files load, bad files are refused naming the key."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from opentelemetry.exporter.tracengent.errors import TracengentConfigError
from opentelemetry.exporter.tracengent.redaction import Redaction
from tracengent.platform import PolicyError, default_policy, load_policy, parse_policy

_MINIMAL = """
[[agents]]
id = "a"
client_id = "key_a"
client_secret = "ags_a"
permissions = ["x:*"]
"""


def test_example_policy_file_loads_with_every_section() -> None:
    """The shipped example policy parses into agents, rules, tools, egress and rates."""
    path = Path(str(resources.files("tracengent.platform") / "example_policy.toml"))
    policy = load_policy(path)
    assert [a.agent_id for a in policy.agents] == ["travel-agent", "hotel-agent", "retired-agent"]
    assert policy.agent("retired-agent") is not None
    assert policy.agent("retired-agent").disabled  # type: ignore[union-attr]
    rule = policy.rule_for("payments:refund", "travel-agent")
    assert rule is not None
    assert (rule.max_amount, rule.require_approval_over) == (2000.0, 250.0)
    assert policy.rule_for("hotels:book", "travel-agent") is None
    assert policy.rule_for("hotels:book", "hotel-agent") is not None
    binding = policy.binding("function", "send_email")
    assert binding is not None
    assert binding.approval
    assert binding.redactions == (Redaction("$.attachments", "remove"),)
    assert policy.egress.is_allowed_host("api.stripe.com")
    assert not policy.egress.is_allowed_host("evil.example.net")
    assert policy.convert(100, "USD") == pytest.approx(92.0)


def test_default_policy_has_the_documented_agents_and_credentials() -> None:
    """The built-in policy accepts key_demo/ags_demo/agk_demo and has a disabled agent."""
    policy = default_policy()
    demo = policy.agent_by_client_id("key_demo")
    assert demo is not None
    assert (demo.agent_id, demo.client_secret, demo.ingest_key) == (
        "demo-agent",
        "ags_demo",
        "agk_demo",
    )
    assert demo.llm_token_budget == 10_000
    assert policy.agent_by_client_id("key_hotel") is not None
    disabled = policy.agent("disabled-agent")
    assert disabled is not None
    assert disabled.disabled


def test_minimal_policy_gets_the_documented_defaults() -> None:
    """Omitted top-level keys take their defaults (EUR, 900 s tokens, 3600 s approvals, deny)."""
    policy = parse_policy(_MINIMAL)
    assert (policy.currency, policy.token_ttl_seconds, policy.approval_ttl_seconds) == (
        "EUR",
        900,
        3600,
    )
    assert policy.egress.unmatched_routes == "deny"
    assert policy.convert(5, None) == 5


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("currency = 'euro'\n" + _MINIMAL, "'currency'"),
        ("surprise = 1\n" + _MINIMAL, "'surprise': unknown key"),
        ("token_ttl_seconds = 0\n" + _MINIMAL, "'token_ttl_seconds'"),
        ("[currency_rates]\nUSD = -1\n" + _MINIMAL, "'currency_rates.USD'"),
        ("", "'agents' is required"),
        ("[[agents]]\nclient_id = 'k'\nclient_secret = 's'\n", "'agents[0].id' is required"),
        ("[[agents]]\nid = 'a'\npermissions = 'x:*'\n", "'agents[0].permissions'"),
        ("[[agents]]\nid = 'a'\nclient_id = 'k'\n", "'agents[0].client_secret'"),
        ("[[agents]]\nid = 'a'\ndisabled = 'yes'\n", "'agents[0].disabled'"),
        ("[[agents]]\nid = 'a'\nllm_token_budget = 1.5\n", "'agents[0].llm_token_budget'"),
        ("[[agents]]\nid = 'a'\n[[agents]]\nid = 'a'\n", "'agents[1].id': duplicate"),
        (_MINIMAL + "[[rules]]\nmax_amount = 3\n", "'rules[0].permission' is required"),
        (
            _MINIMAL + "[[rules]]\npermission = 'x:y'\nmax_amount = 'lots'\n",
            "'rules[0].max_amount'",
        ),
        (
            _MINIMAL + "[[rules]]\npermission = 'x:y'\nredact_fields = ['[']\n",
            "'rules[0].redact_fields'",
        ),
        (
            _MINIMAL + "[[tools]]\ntransport = 'http'\nname = 'n'\npermission = 'p'\n",
            "'tools[0].transport'",
        ),
        (
            _MINIMAL + "[[tools]]\ntransport = 'mcp'\nname = 'n'\npermission = 'p'\n"
            "redactions = [{ field = '$.a', strategy = 'shred' }]\n",
            "'tools[0].redactions[0].strategy'",
        ),
        (_MINIMAL + "[egress]\nunmatched_routes = 'maybe'\n", "'egress.unmatched_routes'"),
        (
            _MINIMAL + "[[egress.routes]]\nhost = 'h'\npath = 'v1'\npermission = 'p'\n",
            "'egress.routes[0].path'",
        ),
        ("agents = 3\n", "'agents': expected an array of tables"),
        ("[[agents]\n", "not valid TOML"),
    ],
)
def test_bad_policy_is_refused_naming_the_key(text: str, named: str) -> None:
    """Each schema violation raises PolicyError whose message names the offending key."""
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="p.toml")
    assert named in str(caught.value)
    assert str(caught.value).startswith("p.toml")


def test_policy_error_is_a_config_error() -> None:
    """PolicyError is a TracengentConfigError (and so a ValueError)."""
    assert issubclass(PolicyError, TracengentConfigError)
    assert issubclass(PolicyError, ValueError)


def test_missing_policy_file_is_refused_with_its_path(tmp_path: Path) -> None:
    """A policy path that cannot be read raises PolicyError naming the path."""
    with pytest.raises(PolicyError, match=r"nope\.toml"):
        load_policy(tmp_path / "nope.toml")


def test_a_policy_file_that_is_not_utf8_is_a_policy_error(tmp_path: Path) -> None:
    """A Latin-1 file is refused as the `PolicyError` `load_policy` promises, naming the file,
    not a bare `UnicodeDecodeError`."""
    path = tmp_path / "latin1.toml"
    path.write_bytes('currency = "EUR"\n# caf\xe9\n'.encode("latin-1"))
    with pytest.raises(PolicyError, match=r"latin1\.toml.*not UTF-8"):
        load_policy(path)
