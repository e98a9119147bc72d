"""Real signed JWTs (HS256) the local platform issues and verifies."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import jwt

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue
from tracengent.platform._records import GrantRecord

__all__ = [
    "IssuedToken",
    "TokenError",
    "issue_access_token",
    "issue_delegated_token",
    "verify_token",
]

ISSUER: Final = "tracengent-local"
_ALGORITHM: Final = "HS256"


class TokenError(Exception):
    """A token that is not one this platform issued, or has expired (answered with 401)."""


@dataclass(frozen=True)
class IssuedToken:
    """A signed token, its id and its lifetime in whole seconds."""

    access_token: str
    jti: str
    expires_in: int


def _sign(key: str, claims: JsonObject) -> str:
    return jwt.encode(claims, key, algorithm=_ALGORITHM)


def issue_access_token(
    key: str, *, agent_id: str, permissions: list[str], ttl_seconds: int, now: float
) -> IssuedToken:
    """An agent's own token: `sub`, `permissions`, `iat`, `exp`, `jti`, `iss`."""
    jti = f"j_{secrets.token_hex(8)}"
    claims: JsonObject = {
        "iss": ISSUER,
        "sub": agent_id,
        "permissions": list(permissions),
        "iat": int(now),
        "exp": int(now) + ttl_seconds,
        "jti": jti,
    }
    return IssuedToken(_sign(key, claims), jti, ttl_seconds)


def issue_delegated_token(key: str, grant: GrantRecord, *, now: float) -> IssuedToken:
    """A delegated token for `grant.to_agent` acting for the root of the grant's chain."""
    jti = f"j_{secrets.token_hex(8)}"
    claims: JsonObject = {
        "iss": ISSUER,
        "sub": grant.to_agent,
        "permissions": list(grant.permissions),
        "grant_id": grant.grant_id,
        "acting_for": grant.acting_for,
        "delegation_chain": list(grant.chain),
        "delegated_permissions": list(grant.permissions),
        "iat": int(now),
        "exp": int(grant.expires_at_s),
        "jti": jti,
    }
    if grant.max_amount is not None:
        claims["max_amount"] = grant.max_amount
    return IssuedToken(_sign(key, claims), jti, max(0, int(grant.expires_at_s - now)))


def verify_token(key: str, token: str, *, now: float) -> Mapping[str, JsonValue]:
    """The claims of a token this platform signed and that is valid at `now`.

    Raises:
        TokenError: bad signature, malformed, wrong issuer, no subject, expired, or issued (or
            valid only from) after `now`.
    """
    try:
        # Time claims are checked against the injected clock below, not pyjwt's wall clock: a
        # test's clock may run ahead of it to expire tokens and approvals.
        claims = jwt.decode(
            token,
            key,
            algorithms=[_ALGORITHM],
            issuer=ISSUER,
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "require": ["exp", "sub", "iss"],
            },
        )
    except jwt.PyJWTError as exc:
        raise TokenError(f"invalid token: {exc}") from exc
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or exp <= now:
        raise TokenError("token expired")
    for name in ("iat", "nbf"):
        if name not in claims:
            continue
        moment = claims[name]
        if isinstance(moment, bool) or not isinstance(moment, (int, float)):
            raise TokenError(f"invalid token: {name!r} must be a number")
        if moment > now:
            raise TokenError(f"token is not yet valid ({name})")
    if not isinstance(claims.get("sub"), str):
        raise TokenError("token has no subject")
    return claims
