"""Reading JWT claims without verifying them: hints for the SDK, never a security decision."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field

from opentelemetry.exporter.tracengent.jsonvalue import finite_float

__all__ = ["TokenClaims", "read_claims"]


@dataclass(frozen=True)
class TokenClaims:
    """The claims of an access token the SDK reads (wire contract §1).

    Attributes:
        permissions: granted permission patterns (a single string claim becomes a one-item list).
        grant_id: the delegation grant, on delegated tokens.
        acting_for: who a delegated token acts for.
        delegation_chain: the agents the authority passed through.
        delegated_permissions: the permissions delegated.
        expires_at: `exp` in seconds since the epoch, when present and numeric.
        subject: `sub`, when present.
    """

    permissions: tuple[str, ...] = ()
    grant_id: str | None = None
    acting_for: str | None = None
    delegation_chain: tuple[str, ...] = ()
    delegated_permissions: tuple[str, ...] = ()
    expires_at: float | None = None
    subject: str | None = None
    raw: dict[str, object] = field(default_factory=dict, compare=False, repr=False)


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list):
        return tuple(item for item in value if isinstance(item, str) and item)
    return ()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def read_claims(token: object) -> TokenClaims:
    """Decode a JWT's payload without verifying it; an unreadable token gives empty claims.

    Never raises: any token that is not three base64url segments with a JSON object in the middle
    reads as no claims at all.
    """
    if not isinstance(token, str) or token.count(".") != 2:
        return TokenClaims()
    segment = token.split(".")[1]
    try:
        decoded = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        payload = json.loads(decoded)
    except (ValueError, binascii.Error, RecursionError):
        return TokenClaims()
    if not isinstance(payload, dict):
        return TokenClaims()
    expires_at = finite_float(payload.get("exp"))
    return TokenClaims(
        permissions=_strings(payload.get("permissions")),
        grant_id=_text(payload.get("grant_id")),
        acting_for=_text(payload.get("acting_for")),
        delegation_chain=_strings(payload.get("delegation_chain")),
        delegated_permissions=_strings(payload.get("delegated_permissions")),
        expires_at=expires_at,
        subject=_text(payload.get("sub")),
        raw=payload,
    )
