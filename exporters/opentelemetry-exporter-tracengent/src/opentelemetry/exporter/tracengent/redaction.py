"""Redaction of JSON bodies and arguments by tiny JSON paths (wire contract §8).

Grammar: `$.a.b[0].c` (also `a.b` and `$a`), and the wildcard step `*` (`$.items[*].card`,
`$.items.*.card`, `$.*.password`): every value of an object, every element of an array, whichever
spelling (`.*` or `[*]`) names it. Strategies: `remove` deletes the key or array element, `mask`
replaces the value with `MASK_TOKEN`. Total: a path that does not resolve is skipped (a wildcard
step on a value that is no object or array resolves to nothing), a bad rule is skipped without
touching the body, malformed JSON passes through unchanged; nothing raises.

A step with a `*` that is not the whole step (`$.card*`) is no glob the grammar has: such a path is
not a path (`parse_path` returns None), so a decision requiring it is malformed (a deny), never a
rule that matches a key literally named `card*` and lets the card leave.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from opentelemetry.exporter.tracengent.jsonvalue import JsonInput, JsonValue

__all__ = [
    "MASK_TOKEN",
    "WILDCARD",
    "JsonValue",
    "Redaction",
    "RedactionRule",
    "apply_redactions",
    "json_document",
    "parse_path",
    "redact_value",
]

MASK_TOKEN: Final = "***REDACTED***"
"""What `mask` puts in place of a redacted value."""

WILDCARD: Final = "*"
"""The path step (`.*` or `[*]`) naming every value of an object and every element of an array."""

Strategy: TypeAlias = Literal["remove", "mask"]
PathStep: TypeAlias = str | int

_STEP = re.compile(r"\.?([^.\[\]]+)|\[(\d+|\*)\]")


@dataclass(frozen=True)
class Redaction:
    """One redaction rule: a JSON path and a strategy (`remove` or `mask`)."""

    field: str
    strategy: str = "remove"

    @classmethod
    def from_wire(cls, raw: object) -> Redaction | None:
        """Parse `{"field": "$.card", "strategy": "mask"}`; None when it is not such an object,
        or when its path is outside the grammar (a rule that could never be applied)."""
        if not isinstance(raw, Mapping):
            return None
        path = raw.get("field")
        strategy = raw.get("strategy", "remove")
        if parse_path(path) is None or strategy not in ("remove", "mask"):
            return None
        return cls(str(path), strategy)


RedactionRule: TypeAlias = Redaction | str | Mapping[str, object]
"""A `Redaction`, a bare path (masked), or a wire object `{"field", "strategy"}`."""


def parse_path(path: object) -> list[PathStep] | None:
    """Split `$.a.b[0].c` into `["a", "b", 0, "c"]`; None when it is not a valid path.

    A wildcard step (`.*`, `[*]`, or `*` first: `*.card`) is `WILDCARD`; a step holding a `*`
    that is not the whole step (`card*`) makes the path invalid (no glob but `*` is applied)."""
    if not isinstance(path, str):
        return None
    rest = path.strip()
    if rest.startswith("$"):
        rest = rest[1:]
    if not rest:
        return None
    steps: list[PathStep] = []
    position = 0
    while position < len(rest):
        match = _STEP.match(rest, position)
        if match is None or match.end() == position:
            return None
        name, index = match.group(1), match.group(2)
        if index is not None:
            steps.append(WILDCARD if index == WILDCARD else int(index))
        else:
            if position > 0 and rest[position] != ".":
                return None
            if WILDCARD in name and name != WILDCARD:
                return None
            steps.append(name)
        position = match.end()
    return steps


def _normalize(rule: RedactionRule) -> tuple[list[PathStep], Strategy] | None:
    if isinstance(rule, Redaction):
        path, strategy = rule.field, rule.strategy
    elif isinstance(rule, str):
        path, strategy = rule, "mask"
    else:
        parsed = Redaction.from_wire(rule)
        if parsed is None:
            return None
        path, strategy = parsed.field, parsed.strategy
    steps = parse_path(path)
    if steps is None or strategy not in ("remove", "mask"):
        return None
    return steps, ("mask" if strategy == "mask" else "remove")


def _child(node: JsonValue, step: PathStep) -> tuple[bool, JsonValue]:
    """Whether `node` has the child key or index `step` (no wildcard) names, and that child."""
    if isinstance(step, int) and isinstance(node, list) and 0 <= step < len(node):
        return True, node[step]
    if isinstance(step, str) and isinstance(node, dict) and step in node:
        return True, node[step]
    return False, None


def _children(node: JsonValue, step: PathStep) -> list[tuple[JsonValue, PathStep]]:
    """`node` with each key or index of it that `step` names (all of them for `WILDCARD`);
    none when `node` has no such child or is no object or array."""
    if step == WILDCARD:
        if isinstance(node, dict):
            return [(node, key) for key in node]
        if isinstance(node, list):
            return [(node, index) for index in range(len(node))]
        return []
    if isinstance(step, int) and isinstance(node, list) and 0 <= step < len(node):
        return [(node, step)]
    if isinstance(step, str) and isinstance(node, dict) and step in node:
        return [(node, step)]
    return []


def _targets(document: JsonValue, steps: list[PathStep]) -> list[tuple[JsonValue, PathStep]]:
    """Each container holding a value `steps` lead to, with its key or index; empty when the
    path does not resolve. Every container is visited once a step (shared or cyclic containers
    do not multiply the work a wildcard does)."""
    if WILDCARD not in steps:
        # The usual path names one value: walk to it without the wildcard's bookkeeping.
        node = document
        for step in steps[:-1]:
            found, node = _child(node, step)
            if not found:
                return []
        return _children(node, steps[-1])
    nodes: list[JsonValue] = [document]
    for step in steps[:-1]:
        seen: set[int] = set()
        following: list[JsonValue] = []
        for node in nodes:
            for container, key in _children(node, step):
                child = container[key]  # type: ignore[index]  # a dict key or a list index
                if id(child) not in seen and isinstance(child, (dict, list)):
                    seen.add(id(child))
                    following.append(child)
        if not following:
            return []
        nodes = following
    return [found for node in nodes for found in _children(node, steps[-1])]


_LEAF_CLASSES: Final = frozenset({str, int, float, bool, type(None)})


def _is_container(value: object) -> bool:
    """Whether `value` is a JSON object or array: a dict, list or tuple, or another mapping or
    sequence (not text or bytes) an agent handed over as one (`JsonInput`)."""
    kind = value.__class__
    # The usual classes first: the ABC checks below cost far more, and a payload is mostly leaves.
    if kind is dict or kind is list or kind is tuple:
        return True
    if kind in _LEAF_CLASSES:
        return False
    return isinstance(value, Mapping) or (
        isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))
    )


def json_document(value: JsonInput) -> JsonValue:
    """`value` as a `JsonValue`: its mappings copied as dicts and its sequences as lists (see
    `_containers_copied`); a value that is no container is returned as it is. Never raises."""
    return _containers_copied(value)


def _containers_copied(value: JsonInput) -> JsonValue:
    """`value` with its dicts and lists copied (tuples, and other mappings and sequences, become
    dicts and lists: JSON has no tuple; shared and cyclic containers stay shared and cyclic);
    other values are kept, not copied. Built without recursion, so no nesting depth makes it
    raise."""
    if not _is_container(value):
        return value  # type: ignore[return-value]  # a leaf, kept as it is
    copies: dict[int, JsonValue] = {}

    def copy_of(source: object) -> tuple[JsonValue, bool]:
        """The copy of container `source` and whether it is new (its items still to copy)."""
        existing = copies.get(id(source))
        if existing is not None:
            return existing, False
        made: JsonValue = {} if isinstance(source, Mapping) else []
        copies[id(source)] = made
        return made, True

    root, _ = copy_of(value)
    pending: list[tuple[object, JsonValue]] = [(value, root)]
    while pending:
        source, target = pending.pop()
        if isinstance(source, Mapping) and isinstance(target, dict):
            for key, item in source.items():
                target[key] = _copied_item(item, copy_of, pending)
        elif isinstance(source, Sequence) and isinstance(target, list):
            target.extend(_copied_item(item, copy_of, pending) for item in source)
    return root


def _copied_item(
    item: object,
    copy_of: Callable[[object], tuple[JsonValue, bool]],
    pending: list[tuple[object, JsonValue]],
) -> JsonValue:
    if not _is_container(item):
        return item  # type: ignore[return-value]  # a leaf, kept as it is
    made, new = copy_of(item)
    if new:
        pending.append((item, made))
    return made


def redact_value(value: JsonValue, rules: Iterable[RedactionRule]) -> JsonValue:
    """Return a redacted copy of `value`; the original is not modified. Never raises.

    Every rule's path is resolved against `value` as it was given (the document the platform
    saw), before any rule changes the copy: removing `$.cards[0]` does not make `$.cards[1]` name
    the element that was at index 2. Array elements are removed from the highest index down. A
    value both masked and removed is removed. Tuples come back as lists (JSON arrays). A wildcard
    step names every value of an object and every element of an array: `remove` of
    `$.items[*]` empties the array, of `$.groups[*].members[0]` removes each group's first
    member and keeps the others in order.
    """
    normalized = [n for n in (_normalize(rule) for rule in _safe_iter(rules)) if n is not None]
    if not normalized:
        return value
    document = _containers_copied(value)
    targets = [
        (found, strategy) for steps, strategy in normalized for found in _targets(document, steps)
    ]
    removals: dict[int, tuple[JsonValue, set[PathStep]]] = {}
    for (container, key), strategy in targets:
        if strategy == "mask":
            container[key] = MASK_TOKEN  # type: ignore[index]  # a dict key or a list index
        else:
            removals.setdefault(id(container), (container, set()))[1].add(key)
    for container, keys in removals.values():
        # Indexes from the highest down, so each one still names the element it resolved to.
        for key in sorted(keys, key=_index_order, reverse=True):
            del container[key]  # type: ignore[arg-type,union-attr]
    return document


def _index_order(key: PathStep) -> int:
    return key if isinstance(key, int) else 0


def apply_redactions(body_json: str | bytes, rules: Iterable[RedactionRule]) -> str | bytes:
    """Redact a JSON text by `rules`; returns the same type it was given. Never raises.

    Malformed JSON, or no applicable rule, returns `body_json` unchanged.
    """
    rule_list = list(_safe_iter(rules))
    if not rule_list:
        return body_json
    try:
        document = json.loads(body_json)
    except (ValueError, TypeError, RecursionError):
        return body_json
    redacted = redact_value(document, rule_list)
    if redacted == document:
        # Nothing resolved: keep the caller's exact bytes rather than a re-serialization.
        return body_json
    text = json.dumps(redacted, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8") if isinstance(body_json, bytes) else text


def _safe_iter(rules: Iterable[RedactionRule] | None) -> Iterable[RedactionRule]:
    if rules is None or isinstance(rules, (str, bytes, Mapping, Redaction)):
        return [rules] if isinstance(rules, (str, Mapping, Redaction)) else []
    try:
        return list(rules)
    except TypeError:
        return []
