"""Permission pattern matching (§9) and reading unverified JWT claims from garbage (§1)."""

from __future__ import annotations

import base64
import json

import pytest

from conformance.replay import make_jwt
from opentelemetry.exporter.tracengent.claims import TokenClaims, read_claims
from opentelemetry.exporter.tracengent.permissions import permission_matches


@pytest.mark.parametrize(
    ("pattern", "permission", "matches"),
    [
        ("*", "payments:refund", True),
        ("payments:refund", "payments:refund", True),
        ("payments:*", "payments:refund", True),
        ("payments:*", "payments:refund:full", True),
        ("payments:*", "payments", False),
        ("payments:*", "paymentsx:refund", False),
        ("payments:refund", "payments:refunds", False),
        ("pay*", "payments:refund", False),
        ("*", "", False),
        ("", "payments:refund", False),
    ],
)
def test_permission_patterns(pattern: str, permission: str, matches: bool) -> None:
    """`*`, an exact name and `ns:*` match; nothing else does."""
    assert permission_matches(pattern, permission) is matches


def test_non_string_permissions_never_match() -> None:
    """Non-strings (as a hostile claim might carry) never match."""
    assert not permission_matches(None, "a:b")  # type: ignore[arg-type]
    assert not permission_matches("*", 3)  # type: ignore[arg-type]


def _segment(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "token",
    [
        None,
        42,
        "",
        "a.b",
        "a.b.c.d",
        "a.!!!.c",
        "h." + _segment(b"not json") + ".s",
        "h." + _segment(b"[1, 2]") + ".s",
        "h." + _segment(b"\xff\xfe") + ".s",
        "h." + _segment(b"[" * 100_000) + ".s",
    ],
)
def test_garbage_tokens_read_as_no_claims(token: object) -> None:
    """Anything that is not a JWT with a JSON object payload gives empty claims, no exception."""
    assert read_claims(token) == TokenClaims()


def test_claims_are_read_and_typed() -> None:
    """Known claims are read; a single-string `permissions` becomes a one-item tuple."""
    token = make_jwt(
        {
            "sub": "key_billing",
            "permissions": "payments:*",
            "grant_id": "dlg_4",
            "acting_for": "u_42",
            "delegation_chain": ["agt_a", 7, "agt_b"],
            "delegated_permissions": ["hotels:book"],
            "exp": 2_000_000_000,
        }
    )
    claims = read_claims(token)
    assert claims.permissions == ("payments:*",)
    assert (claims.grant_id, claims.acting_for, claims.subject) == ("dlg_4", "u_42", "key_billing")
    assert claims.delegation_chain == ("agt_a", "agt_b")
    assert claims.delegated_permissions == ("hotels:book",)
    assert claims.expires_at == 2_000_000_000.0


@pytest.mark.parametrize("exp", [True, "2000000000", None, 10**400, [1]])
def test_unusable_exp_is_none(exp: object) -> None:
    """An `exp` that is not a finite number is ignored (the token is still read)."""
    payload = json.dumps({"exp": exp, "permissions": ["a:b"]}).encode()
    claims = read_claims(f"h.{_segment(payload)}.s")
    assert claims.expires_at is None
    assert claims.permissions == ("a:b",)


def test_wrongly_typed_claims_are_dropped() -> None:
    """Claims of the wrong type read as absent rather than failing."""
    claims = read_claims(make_jwt({"permissions": {"a": 1}, "grant_id": 5, "acting_for": ""}))
    assert (claims.permissions, claims.grant_id, claims.acting_for) == ((), None, None)
