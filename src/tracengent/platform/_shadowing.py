"""Rules and routes that can never apply: an earlier one (first match wins) covers every request
they would. Their limits (a lower cap, an approval) would silently not apply, so the policy is
refused, as a second binding of one tool is."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tracengent.platform._egress_globs import GLOB_CHARACTERS
from tracengent.platform._toml_reader import PolicyError

if TYPE_CHECKING:
    from tracengent.platform._policy import EgressRoute, PermissionRule

__all__ = ["refuse_shadowed_routes", "refuse_shadowed_rules"]


def _pattern_covers(earlier: str, later: str) -> bool:
    """Whether permission pattern `earlier` matches every permission `later` does (§9)."""
    if earlier in ("*", later):
        return True
    return earlier.endswith(":*") and later != "*" and later.startswith(earlier[:-1])


def _rule_covers(earlier: PermissionRule, later: PermissionRule) -> bool:
    # No `agents`: every agent; a later rule for every agent is covered only by such a rule.
    agents = not earlier.agents or (bool(later.agents) and set(later.agents) <= set(earlier.agents))
    return agents and _pattern_covers(earlier.permission, later.permission)


def _glob_covers(earlier: str, later: str) -> bool:
    """Whether glob `earlier` matches everything `later` does (known only when `later` is a
    plain name, or the same glob: no false alarm)."""
    if earlier == later:
        return True
    return not GLOB_CHARACTERS.intersection(later) and fnmatch.fnmatchcase(later, earlier)


def _route_covers(earlier: EgressRoute, later: EgressRoute) -> bool:
    methods = "*" in earlier.methods or (
        "*" not in later.methods and set(later.methods) <= set(earlier.methods)
    )
    return (
        methods
        and _glob_covers(earlier.host, later.host)
        and _glob_covers(earlier.path, later.path)
    )


def refuse_shadowed_rules(rules: Sequence[PermissionRule]) -> None:
    """Raise `PolicyError` naming the first rule an earlier one covers."""
    for index, rule in enumerate(rules):
        for before, earlier in enumerate(rules[:index]):
            if _rule_covers(earlier, rule):
                raise PolicyError(
                    f"'rules[{index}].permission': {rule.permission!r} never applies: "
                    f"rules[{before}] ({earlier.permission!r}) comes first and covers it (the "
                    "first matching rule wins: put the narrower rule first)"
                )


def refuse_shadowed_routes(routes: Sequence[EgressRoute]) -> None:
    """Raise `PolicyError` naming the first route an earlier one covers."""
    for index, route in enumerate(routes):
        for before, earlier in enumerate(routes[:index]):
            if _route_covers(earlier, route):
                raise PolicyError(
                    f"'egress.routes[{index}]': {route.host}{route.path} never applies: "
                    f"egress.routes[{before}] ({earlier.host}{earlier.path}) comes first and "
                    "covers each of its methods (the first matching route wins: put the "
                    "narrower route first)"
                )
