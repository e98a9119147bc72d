"""Wildcard steps in redaction paths (`$.items[*].card`, `$.items.*.card`, `$.*.password`).

`*` was read as a key literally named `*`, so an allow whose redaction named every item's card
masked nothing and the cards left. A `*` step now names every value of an object and every
element of an array; a step with a `*` that is not the whole step is no path (a decision
requiring it is a deny, never a rule that masks nothing).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from opentelemetry.exporter.tracengent.jsonvalue import JsonValue
from opentelemetry.exporter.tracengent.redaction import (
    MASK_TOKEN,
    Redaction,
    apply_redactions,
    parse_path,
    redact_value,
)
from opentelemetry.exporter.tracengent.wire import AuthDecision, ToolDecision
from tracengent._governance._egress_body import enforce_redactions, read_json_body
from tracengent.platform import PolicyError, parse_policy

ORDER: dict[str, Any] = {
    "items": [
        {"sku": "a", "card": "4111 1111 1111 1111", "cvv": "123"},
        {"sku": "b", "card": "5500 0000 0000 0004", "cvv": "456"},
        {"sku": "c"},
    ],
    "payer": {"name": "Ada", "password": "hunter2"},
    "admin": {"password": "root"},
    "note": "leave me",
}


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("$.items[*].card", ["items", "*", "card"]),
        ("$.items.*.card", ["items", "*", "card"]),
        ("$.*.password", ["*", "password"]),
        ("*.card", ["*", "card"]),
        ("$*", ["*"]),
        ("$[*]", ["*"]),
        ("$.a[*][*].b[0]", ["a", "*", "*", "b", 0]),
    ],
)
def test_wildcard_steps_parse(path: str, steps: list[str | int]) -> None:
    """`.*`, `[*]` and a leading `*` are the wildcard step."""
    assert parse_path(path) == steps


@pytest.mark.parametrize(
    "path", ["$.card*", "$.*card", "$.ca*rd", "$.a.**", "$.items[**]", "$.items[*]card", "$[*x]"]
)
def test_a_star_that_is_not_a_whole_step_is_no_path(path: str) -> None:
    """No glob but the whole-step `*` is in the grammar: `card*` is not a key named `card*`."""
    assert parse_path(path) is None
    assert Redaction.from_wire({"field": path, "strategy": "mask"}) is None


@pytest.mark.parametrize("path", ["$.items[*].card", "$.items.*.card"])
def test_mask_every_items_card(path: str) -> None:
    """Both spellings mask the card of every item; an item without one is left alone."""
    redacted: Any = redact_value(ORDER, [Redaction(path, "mask")])
    assert [item.get("card") for item in redacted["items"]] == [MASK_TOKEN, MASK_TOKEN, None]
    assert redacted["items"][2] == {"sku": "c"}
    assert redacted["payer"] == ORDER["payer"]


def test_object_wildcard_masks_the_key_under_every_value() -> None:
    """`$.*.password` masks `password` in every object the root holds; a string value (`note`)
    has no keys and is skipped."""
    redacted: Any = redact_value(ORDER, [Redaction("$.*.password", "mask")])
    assert redacted["payer"] == {"name": "Ada", "password": MASK_TOKEN}
    assert redacted["admin"] == {"password": MASK_TOKEN}
    assert redacted["note"] == "leave me"
    assert redacted["items"] == ORDER["items"]


def test_a_trailing_wildcard_masks_every_value() -> None:
    """`$.payer.*` masks every value of the object, `$.tags[*]` every element of the array."""
    body: JsonValue = {"payer": {"name": "Ada", "iban": "DE00"}, "tags": ["x", "y"], "n": 1}
    rules = [Redaction("$.payer.*", "mask"), Redaction("$.tags[*]", "mask")]
    assert redact_value(body, rules) == {
        "payer": {"name": MASK_TOKEN, "iban": MASK_TOKEN},
        "tags": [MASK_TOKEN, MASK_TOKEN],
        "n": 1,
    }


def test_nested_wildcards() -> None:
    """`$.orders[*].lines.*.pan` reaches every line of every order."""
    body: JsonValue = {
        "orders": [
            {"lines": [{"pan": "1", "q": 1}, {"pan": "2", "q": 2}]},
            {"lines": {"first": {"pan": "3"}, "second": {"q": 4}}},
            {"lines": "none"},
        ]
    }
    redacted = redact_value(body, ["$.orders[*].lines.*.pan"])
    assert redacted == {
        "orders": [
            {"lines": [{"pan": MASK_TOKEN, "q": 1}, {"pan": MASK_TOKEN, "q": 2}]},
            {"lines": {"first": {"pan": MASK_TOKEN}, "second": {"q": 4}}},
            {"lines": "none"},
        ]
    }


@pytest.mark.parametrize(
    "path", ["$.note.*", "$.note[*]", "$.items[*].sku.*", "$.missing[*].card", "$.items[*].x"]
)
def test_a_wildcard_on_a_non_container_is_a_no_op(path: str) -> None:
    """A wildcard over a string (or over nothing) resolves to nothing: the body is unchanged,
    and JSON text comes back as the very bytes it was."""
    for strategy in ("mask", "remove"):
        assert redact_value(ORDER, [Redaction(path, strategy)]) == ORDER
    text = json.dumps(ORDER, indent=2).encode()
    assert apply_redactions(text, [{"field": path, "strategy": "remove"}]) is text


def test_remove_with_a_wildcard_deletes_the_key_from_every_element() -> None:
    """`remove` of `$.items[*].cvv` deletes `cvv` from every item, keeping the rest."""
    redacted: Any = redact_value(ORDER, [Redaction("$.items[*].cvv", "remove")])
    assert redacted["items"] == [
        {"sku": "a", "card": "4111 1111 1111 1111"},
        {"sku": "b", "card": "5500 0000 0000 0004"},
        {"sku": "c"},
    ]


def test_remove_of_array_elements_by_wildcard() -> None:
    """`remove` of `$.cards[*]` removes every element; of `$.groups[*].members[0]` the first
    member of each group, the others kept in order; of `$.*` every key of the root."""
    body: dict[str, Any] = {
        "cards": ["4111", "5500", "3400"],
        "groups": [{"members": ["a", "b", "c"]}, {"members": ["d"]}, {"members": []}],
    }
    assert redact_value(body, [Redaction("$.cards[*]", "remove")]) == {
        "cards": [],
        "groups": body["groups"],
    }
    assert redact_value(body, [Redaction("$.groups[*].members[0]", "remove")]) == {
        "cards": ["4111", "5500", "3400"],
        "groups": [{"members": ["b", "c"]}, {"members": []}, {"members": []}],
    }
    assert redact_value(body, [Redaction("$.*", "remove")]) == {}


def test_wildcard_and_index_rules_together_resolve_against_the_body_as_given() -> None:
    """`$.cards[1]` removed and `$.cards[*]` masked: the element at index 1 is removed (removal
    wins) and every other one is masked, none shifted onto another."""
    body: JsonValue = {"cards": ["4111", "5500", "3400"]}
    rules = [Redaction("$.cards[1]", "remove"), Redaction("$.cards[*]", "mask")]
    assert redact_value(body, rules) == {"cards": [MASK_TOKEN, MASK_TOKEN]}
    assert body == {"cards": ["4111", "5500", "3400"]}  # the original is not modified


def test_a_wildcard_over_shared_and_cyclic_containers_ends() -> None:
    """An agent's arguments may share a container or hold a cycle: each container is visited
    once a step, so a wildcard path ends and masks the shared value once."""
    shared: dict[str, Any] = {"card": "4111"}
    cyclic: list[Any] = [shared]
    cyclic.append(cyclic)
    value: Any = {"a": [shared, shared], "loop": cyclic}
    redacted: Any = redact_value(value, ["$.*[*].card", "$.loop[*][*][*][*][*].card"])
    assert redacted["a"][0]["card"] == MASK_TOKEN
    assert redacted["a"][0] is redacted["a"][1]
    assert shared == {"card": "4111"}


def test_tool_decision_with_a_wildcard_redaction_masks_every_card_of_the_egress_body() -> None:
    """An allowed tool decision naming `$.items[*].card` is an allow carrying that rule, and the
    egress body it is enforced on is sent with every card masked."""
    decision = ToolDecision.from_wire(
        {
            "allowed": True,
            "status": "allowed",
            "redactions": [{"field": "$.items[*].card", "strategy": "mask"}],
        }
    )
    assert decision.allowed
    assert decision.redactions == [Redaction("$.items[*].card", "mask")]
    request = httpx.Request("POST", "http://api.example.com/v1/orders", json=ORDER)
    enforced, content = enforce_redactions(decision, read_json_body(request))
    assert enforced.allowed
    assert content is not None
    sent = json.loads(content)
    assert [item.get("card") for item in sent["items"]] == [MASK_TOKEN, MASK_TOKEN, None]
    assert b"4111" not in content
    assert b"5500" not in content


def test_obligations_with_a_wildcard_path_are_an_allow_and_a_partial_glob_is_a_deny() -> None:
    """`redactFields: ["$.items[*].card"]` is an obligation the SDK applies: the allow stands.
    `["$.card*"]` is one it cannot apply: the decision is malformed (a deny), not an allow that
    masks nothing."""
    allowed = AuthDecision.from_wire(
        {
            "allowed": True,
            "status": "allowed",
            "obligations": {"redactFields": ["$.items[*].card", "$.*.password"]},
        }
    )
    assert allowed.allowed
    assert allowed.obligations is not None
    assert allowed.obligations.redact_fields == ["$.items[*].card", "$.*.password"]
    glob = AuthDecision.from_wire(
        {"allowed": True, "status": "allowed", "obligations": {"redactFields": ["$.card*"]}}
    )
    assert not glob.allowed
    assert "cannot be applied: '$.card*'" in glob.reason
    unusable = ToolDecision.from_wire(
        {"allowed": True, "status": "allowed", "redactions": [{"field": "$.card*"}]}
    )
    assert (unusable.allowed, unusable.outcome) == (False, "malformed_decision")


_POLICY = """
[[agents]]
id = "shop"
ingest_key = "agk_shop"
permissions = ["orders:create"]

[[rules]]
permission = "orders:create"
redact_fields = [{fields}]

[[tools]]
transport = "function"
name = "create_order"
permission = "orders:create"
redactions = [{{ field = {field}, strategy = "remove" }}]
"""


def test_local_platform_policy_accepts_wildcard_paths_and_rejects_partial_globs() -> None:
    """The local platform validates its policy's paths with the same grammar: wildcard steps
    load, a partial glob is refused when the policy is read (never a binding masking nothing)."""
    policy = parse_policy(_POLICY.format(fields='"$.*.password"', field='"$.items[*].cvv"'))
    (rule,) = policy.rules
    assert rule.redact_fields == ("$.*.password",)
    (tool,) = policy.tools
    assert tool.redactions == (Redaction("$.items[*].cvv", "remove"),)
    with pytest.raises(PolicyError, match="not a JSON path"):
        parse_policy(_POLICY.format(fields='"$.card*"', field='"$.items[*].cvv"'))
    with pytest.raises(PolicyError, match="not a JSON path"):
        parse_policy(_POLICY.format(fields='"$.card"', field='"$.items.cv*"'))
