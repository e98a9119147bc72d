"""`create_grant` refuses a lifetime it cannot store or sign with a `DelegationRefused`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracengent.platform import DelegationRefused, PlatformStore, create_grant
from tracengent.platform._defaults import default_policy
from tracengent.platform._delegation import MAX_GRANT_TTL_SECONDS


@pytest.mark.parametrize(
    "ttl",
    [10**400, MAX_GRANT_TTL_SECONDS + 1, float("inf"), float("nan"), 1e300, True],
    ids=["beyond-float", "over-100-years", "inf", "nan", "1e300", "bool"],
)
def test_a_ttl_beyond_the_bound_is_refused_cleanly(tmp_path: Path, ttl: int) -> None:
    """No OverflowError (int too large for a float, int(inf)), no sqlite IntegrityError (NaN
    stored as NULL), no token whose `exp` is hundreds of digits: a DelegationRefused, no grant."""
    store = PlatformStore(tmp_path / "db.sqlite3")
    with pytest.raises(DelegationRefused, match="ttl"):
        create_grant(
            store,
            default_policy(),
            from_agent="demo-agent",
            to_agent="hotel-agent",
            permissions=["hotels:*"],
            ttl_seconds=ttl,
        )
    assert store.grants() == []


def test_the_longest_ttl_is_granted(tmp_path: Path) -> None:
    """A grant of exactly the bound is created and its token lives that long."""
    store = PlatformStore(tmp_path / "db.sqlite3", clock=lambda: 1_800_000_000.0)
    grant, token = create_grant(
        store,
        default_policy(),
        from_agent="demo-agent",
        to_agent="hotel-agent",
        permissions=["hotels:*"],
        ttl_seconds=MAX_GRANT_TTL_SECONDS,
    )
    assert grant.expires_at_s == 1_800_000_000.0 + MAX_GRANT_TTL_SECONDS
    assert token.expires_in == MAX_GRANT_TTL_SECONDS


def test_the_cli_bound_is_the_platforms() -> None:
    """`tracengent grant --ttl` refuses exactly what `create_grant` refuses."""
    from tracengent.cli._store_commands import _MAX_GRANT_TTL_SECONDS

    assert _MAX_GRANT_TTL_SECONDS == MAX_GRANT_TTL_SECONDS
