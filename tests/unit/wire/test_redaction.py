"""Redaction by tiny JSON paths is total: bad rules skipped, bad JSON unchanged, nothing raises."""

from __future__ import annotations

import json
from typing import Any

import pytest

from opentelemetry.exporter.tracengent.jsonvalue import JsonValue
from opentelemetry.exporter.tracengent.redaction import (
    MASK_TOKEN,
    Redaction,
    apply_redactions,
    parse_path,
    redact_value,
)

BODY: JsonValue = {"card": "4242", "user": {"iban": "DE00", "name": "Ada"}, "items": [1, 2, 3]}


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("$.a.b[0].c", ["a", "b", 0, "c"]),
        ("a.b", ["a", "b"]),
        ("$a", ["a"]),
        ("$.items[2]", ["items", 2]),
        ("[0]", [0]),
    ],
)
def test_valid_paths_parse(path: str, steps: list[str | int]) -> None:
    """The grammar's three spellings parse into keys and indexes."""
    assert parse_path(path) == steps


@pytest.mark.parametrize("path", ["", "$", "a..b", "a.", "a[x]", "a[-1]", "a[0]b", "$..a", 7, None])
def test_invalid_paths_are_none(path: object) -> None:
    """Anything outside the grammar is not a path (None), never an exception."""
    assert parse_path(path) is None


def test_mask_and_remove_in_objects_and_arrays() -> None:
    """`mask` replaces the value, `remove` deletes the key or the array element."""
    rules = [
        Redaction("$.card", "mask"),
        Redaction("$.user.iban", "remove"),
        Redaction("$.items[0]", "remove"),
        Redaction("$.items[1]", "mask"),
    ]
    # Every path names a value of the body as given: `$.items[1]` is 2, whatever `[0]` does.
    assert redact_value(BODY, rules) == {
        "card": MASK_TOKEN,
        "user": {"name": "Ada"},
        "items": [MASK_TOKEN, 3],
    }


@pytest.mark.parametrize(
    ("rules", "kept"),
    [
        ([Redaction("$.cards[0]", "remove"), Redaction("$.cards[1]", "remove")], ["public"]),
        ([Redaction("$.cards[1]", "remove"), Redaction("$.cards[0]", "remove")], ["public"]),
        (
            [Redaction("$.cards[0]", "remove"), Redaction("$.cards[1]", "mask")],
            [MASK_TOKEN, "public"],
        ),
        (
            [Redaction("$.cards[1]", "mask"), Redaction("$.cards[0]", "remove")],
            [MASK_TOKEN, "public"],
        ),
        (
            [Redaction("$.cards[0]", "mask"), Redaction("$.cards[0]", "remove"), "$.cards[1]"],
            [MASK_TOKEN, "public"],
        ),
    ],
)
def test_several_rules_on_one_array_hide_exactly_the_elements_they_name(
    rules: list[Redaction | str], kept: list[str]
) -> None:
    """Removing an element does not shift the next rule onto another one: no secret is left,
    and the public element is kept (a value both masked and removed is removed)."""
    body: JsonValue = {"cards": ["4111-SECRET-0", "5500-SECRET-1", "public"]}
    assert redact_value(body, rules) == {"cards": kept}
    assert body == {"cards": ["4111-SECRET-0", "5500-SECRET-1", "public"]}


def test_removals_at_several_depths_resolve_against_the_original() -> None:
    """A rule under an element another rule removes, and keys removed twice, change nothing
    else."""
    body: JsonValue = {"a": [{"k": "s1"}, {"k": "s2"}, {"k": "keep"}], "b": "s3"}
    rules: list[Redaction | str] = ["$.a[0].k", Redaction("$.a[0]", "remove")]
    rules += [Redaction("$.a[1]", "remove"), Redaction("$.b", "remove"), Redaction("$.b", "remove")]
    assert redact_value(body, rules) == {"a": [{"k": "keep"}]}


def test_tuples_are_redacted_as_the_json_arrays_they_are_sent_as() -> None:
    """Arguments holding tuples reach the platform as JSON arrays; its paths into them apply,
    and the redacted arguments hold lists."""
    args: Any = {"cards": ("4111-1111", "x"), "pair": [("SECRET",)]}
    redacted = redact_value(args, ["$.cards[0]", Redaction("$.pair[0][0]", "remove")])
    assert redacted == {"cards": [MASK_TOKEN, "x"], "pair": [[]]}


def test_no_nesting_depth_makes_redaction_raise() -> None:
    """Copying is not recursive: a value nested far beyond the recursion limit is redacted."""
    deep: JsonValue = "SECRET"
    for _ in range(20_000):
        deep = [deep]
    body: JsonValue = {"deep": deep, "card": "4242"}
    redacted = redact_value(body, ["$.card"])
    assert isinstance(redacted, dict)
    assert redacted["card"] == MASK_TOKEN
    node = redacted["deep"]
    depth = 0
    while isinstance(node, list):
        node, depth = node[0], depth + 1
    assert (node, depth) == ("SECRET", 20_000)


def test_shared_and_cyclic_containers_are_copied_once() -> None:
    """A container reached twice is copied once (and a cycle ends), as `copy.deepcopy` does."""
    shared: JsonValue = {"card": "4242"}
    cyclic: list[JsonValue] = []
    cyclic.append(cyclic)
    body: JsonValue = {"x": shared, "y": shared, "loop": cyclic}
    redacted = redact_value(body, ["$.x.card"])
    assert isinstance(redacted, dict)
    assert redacted["x"] is redacted["y"]
    assert redacted["x"] == {"card": MASK_TOKEN}
    loop = redacted["loop"]
    assert isinstance(loop, list)
    assert loop[0] is loop
    assert loop is not cyclic
    assert shared == {"card": "4242"}


def test_redact_value_leaves_the_original_untouched() -> None:
    """The input is deep-copied, so the caller's body keeps its secrets."""
    before = json.dumps(BODY)
    redact_value(BODY, ["$.user.iban"])
    assert json.dumps(BODY) == before


def test_bad_and_unresolvable_rules_are_skipped() -> None:
    """A bad rule or a path that does not resolve is skipped; the good rule still applies."""
    rules: list[object] = [
        "$.nope.deeper",
        "$.items[9]",
        {"field": "$.card", "strategy": "shred"},
        {"field": 3},
        42,
        "a..b",
        {"field": "$.user.name", "strategy": "mask"},
    ]
    assert redact_value(BODY, rules) == {  # type: ignore[arg-type]
        "card": "4242",
        "user": {"iban": "DE00", "name": MASK_TOKEN},
        "items": [1, 2, 3],
    }


def test_a_bare_string_rule_masks() -> None:
    """A bare path (as in `redactFields`) masks rather than removes."""
    assert redact_value({"card": "4242"}, ["$.card"]) == {"card": MASK_TOKEN}


@pytest.mark.parametrize("body", ["not json", "{", b"\xff\xfe", ""])
def test_malformed_json_passes_through_unchanged(body: str | bytes) -> None:
    """Text that is not JSON is returned as is, same type."""
    assert apply_redactions(body, ["$.card"]) == body


def test_apply_redactions_keeps_the_input_type() -> None:
    """A str body gives a str, a bytes body gives bytes, both redacted."""
    assert apply_redactions('{"card": "4242"}', ["$.card"]) == '{"card":"***REDACTED***"}'
    assert apply_redactions(b'{"card": "4242"}', [Redaction("card")]) == b"{}"


def test_no_applicable_rule_returns_the_body_byte_for_byte() -> None:
    """When no rule changes anything the body is not even re-serialized."""
    body = '{"card" : "4242",  "n": 1}'
    assert apply_redactions(body, ["$.missing", "a..b"]) == body
    assert apply_redactions(body, []) == body


def test_rules_that_are_not_iterable_are_ignored() -> None:
    """A rules argument of the wrong type is treated as no rules."""
    assert redact_value(BODY, 5) == BODY  # type: ignore[arg-type]
    assert redact_value(BODY, None) == BODY  # type: ignore[arg-type]


def test_redaction_from_wire_is_strict() -> None:
    """Only `{"field": str, "strategy": remove|mask}` parses; strategy defaults to remove."""
    assert Redaction.from_wire({"field": "$.a"}) == Redaction("$.a", "remove")
    assert Redaction.from_wire({"field": "$.a", "strategy": "mask"}) == Redaction("$.a", "mask")
    assert Redaction.from_wire({"field": "$.a", "strategy": "hash"}) is None
    assert Redaction.from_wire("$.a") is None
    # A path outside the grammar could never be applied: not a rule.
    assert Redaction.from_wire({"field": "$..card"}) is None
    assert Redaction.from_wire({"field": "$.card*", "strategy": "mask"}) is None
    # A wildcard step is in the grammar: a rule.
    wildcard = {"field": "$.cards[*]", "strategy": "mask"}
    assert Redaction.from_wire(wildcard) == Redaction("$.cards[*]", "mask")
