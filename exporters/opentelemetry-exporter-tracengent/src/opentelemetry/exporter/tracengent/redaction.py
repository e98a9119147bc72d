"""Redaction of JSON bodies and arguments by tiny JSON paths (wire contract §8).

Grammar: `$.a.b[0].c` (also `a.b` and `$a`). Strategies: `remove` deletes the key or array element,
`mask` replaces the value with `MASK_TOKEN`. Total: a path that does not resolve is skipped, a bad
rule is skipped without touching the body, malformed JSON passes through unchanged; nothing raises.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from opentelemetry.exporter.tracengent.jsonvalue import JsonValue

__all__ = [
    "MASK_TOKEN",
    "JsonValue",
    "Redaction",
    "RedactionRule",
    "apply_redactions",
    "parse_path",
    "redact_value",
]

MASK_TOKEN: Final = "***REDACTED***"
"""What `mask` puts in place of a redacted value."""

Strategy: TypeAlias = Literal["remove", "mask"]
PathStep: TypeAlias = str | int

_STEP = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True)
class Redaction:
    """One redaction rule: a JSON path and a strategy (`remove` or `mask`)."""

    field: str
    strategy: str = "remove"

    @classmethod
    def from_wire(cls, raw: object) -> Redaction | None:
        """Parse `{"field": "$.card", "strategy": "mask"}`; None when it is not such an object."""
        if not isinstance(raw, Mapping):
            return None
        path = raw.get("field")
        strategy = raw.get("strategy", "remove")
        if not isinstance(path, str) or strategy not in ("remove", "mask"):
            return None
        return cls(path, strategy)


RedactionRule: TypeAlias = Redaction | str | Mapping[str, object]
"""A `Redaction`, a bare path (masked), or a wire object `{"field", "strategy"}`."""


def parse_path(path: object) -> list[PathStep] | None:
    """Split `$.a.b[0].c` into `["a", "b", 0, "c"]`; None when it is not a valid path."""
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
            steps.append(int(index))
        else:
            if position > 0 and rest[position] != ".":
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
    if isinstance(step, int) and isinstance(node, list) and 0 <= step < len(node):
        return True, node[step]
    if isinstance(step, str) and isinstance(node, dict) and step in node:
        return True, node[step]
    return False, None


def _apply_one(document: JsonValue, steps: list[PathStep], strategy: Strategy) -> None:
    node = document
    for step in steps[:-1]:
        found, node = _child(node, step)
        if not found:
            return
    last = steps[-1]
    if isinstance(node, list) and isinstance(last, int):
        if 0 <= last < len(node):
            if strategy == "remove":
                del node[last]
            else:
                node[last] = MASK_TOKEN
    elif isinstance(node, dict) and isinstance(last, str) and last in node:
        if strategy == "remove":
            del node[last]
        else:
            node[last] = MASK_TOKEN


def redact_value(value: JsonValue, rules: Iterable[RedactionRule]) -> JsonValue:
    """Return a redacted deep copy of `value`; the original is not modified. Never raises."""
    normalized = [n for n in (_normalize(rule) for rule in _safe_iter(rules)) if n is not None]
    if not normalized:
        return value
    document = copy.deepcopy(value)
    for steps, strategy in normalized:
        _apply_one(document, steps, strategy)
    return document


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
