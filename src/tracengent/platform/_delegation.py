"""Delegation grants: created by `tracengent grant`, narrowed by `/v1/delegations/{id}/attenuate`.

The subset invariant (wire contract §7): a child grant never has more permissions (pattern-wise),
a larger amount or a longer lifetime than its parent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from opentelemetry.exporter.tracengent.errors import TracengentError
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, finite_float
from opentelemetry.exporter.tracengent.permissions import permission_matches
from tracengent.platform._decide import RequestError, finite_amount
from tracengent.platform._policy import Policy
from tracengent.platform._records import GrantRecord
from tracengent.platform._tokens import IssuedToken, issue_delegated_token
from tracengent.platform.store import PlatformStore

__all__ = ["MAX_GRANT_TTL_SECONDS", "DelegationRefused", "attenuate", "create_grant"]

MAX_GRANT_TTL_SECONDS: Final = 100 * 31_557_600
"""The longest lifetime `create_grant` gives a grant: 100 Julian years."""


class DelegationRefused(TracengentError):
    """A grant or attenuation breaks the policy or the subset invariant (answered 403)."""


def _covered(permission: str, parents: Sequence[str]) -> bool:
    return any(permission_matches(parent, permission) for parent in parents)


def _active_agent(policy: Policy, agent_id: str, role: str) -> None:
    agent = policy.agent(agent_id)
    if agent is None:
        raise DelegationRefused(f"unknown {role} agent {agent_id!r}")
    if agent.disabled:
        raise DelegationRefused(f"{role} agent {agent_id!r} is disabled")


def create_grant(
    store: PlatformStore,
    policy: Policy,
    *,
    from_agent: str,
    to_agent: str,
    permissions: Sequence[str],
    ttl_seconds: int,
    max_amount: float | None = None,
) -> tuple[GrantRecord, IssuedToken]:
    """Create a root grant and the delegated token `to_agent` acts with.

    Raises:
        DelegationRefused: an unknown or disabled agent, no permissions, a permission the
            delegating agent does not hold, a ttl that is not a number in (0, 100 years], or an
            amount that is negative or not finite.
    """
    _active_agent(policy, from_agent, "delegating")
    _active_agent(policy, to_agent, "delegate")
    if not permissions:
        raise DelegationRefused("a grant needs at least one permission")
    # A bool is no lifetime; NaN is stored as NULL; past the float range `now + ttl` raises
    # OverflowError; an infinite one cannot be a token's `exp`.
    ttl = finite_float(ttl_seconds)
    if ttl is None or not 0 < ttl <= MAX_GRANT_TTL_SECONDS:
        raise DelegationRefused(
            f"ttl must be a positive number of seconds up to {MAX_GRANT_TTL_SECONDS} (100 years),"
            f" got {ttl_seconds!r:.40}"
        )
    # NaN would pass every `<`/`>` check and SQLite stores it as NULL: a grant with no cap.
    cap = finite_amount(max_amount)
    if max_amount is not None and cap is None:
        raise DelegationRefused(f"max amount must be a finite number >= 0, got {max_amount}")
    holder = policy.agent(from_agent)
    for permission in permissions:
        if holder is None or not _covered(permission, holder.permissions):
            raise DelegationRefused(
                f"{from_agent} does not hold {permission} and cannot delegate it"
            )
    now = store.clock()
    grant = store.create_grant(
        from_agent=from_agent,
        to_agent=to_agent,
        permissions=permissions,
        expires_at_s=now + ttl,
        chain=[from_agent, to_agent],
        max_amount=cap,
    )
    return grant, issue_delegated_token(store.signing_key, grant, now=now)


def attenuate(
    store: PlatformStore, policy: Policy, parent: GrantRecord, request: JsonObject
) -> IssuedToken:
    """Narrow `parent` for `grantedToAgentId` and issue the child's token.

    Raises:
        RequestError: the request body breaks the contract (answered 400).
        DelegationRefused: the subset invariant or the policy refuses it (answered 403).
    """
    to_agent = request.get("grantedToAgentId")
    if not isinstance(to_agent, str) or not to_agent:
        raise RequestError("'grantedToAgentId' is required (a non-empty string)")
    permissions = request.get("permissions")
    if (
        not isinstance(permissions, list)
        or not permissions
        or not all(isinstance(p, str) and p for p in permissions)
    ):
        raise RequestError("'permissions' must be a non-empty array of strings")
    requested = [str(p) for p in permissions]
    max_amount = request.get("maxAmount")
    requested_cap = finite_amount(max_amount)
    if max_amount is not None and requested_cap is None:
        raise RequestError(f"'maxAmount' must be a finite number >= 0, got {max_amount!r}")
    ttl = request.get("expiresInSeconds")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0):
        raise RequestError("'expiresInSeconds' must be a positive integer")
    reason = request.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise RequestError("'reason' must be a string")
    _active_agent(policy, to_agent, "delegate")
    for permission in requested:
        if not _covered(permission, parent.permissions):
            raise DelegationRefused(
                f"permission {permission} is wider than the parent grant's {parent.permissions}"
            )
    amount = requested_cap if requested_cap is not None else parent.max_amount
    if parent.max_amount is not None and (amount is None or amount > parent.max_amount):
        raise DelegationRefused(
            f"maxAmount {amount} exceeds the parent grant's maximum {parent.max_amount}"
        )
    now = store.clock()
    expires_at = now + ttl if ttl is not None else parent.expires_at_s
    if expires_at > parent.expires_at_s:
        left = max(0, int(parent.expires_at_s - now))
        raise DelegationRefused(
            f"expiresInSeconds {ttl} exceeds the parent grant's remaining lifetime of {left} s"
        )
    child = store.create_grant(
        from_agent=parent.to_agent,
        to_agent=to_agent,
        permissions=requested,
        expires_at_s=expires_at,
        chain=[*parent.chain, to_agent],
        max_amount=amount,
        parent_id=parent.grant_id,
        reason=reason,
    )
    return issue_delegated_token(store.signing_key, child, now=now)
