"""A delegated session after `close()`, against the real local platform.

`close()` (the `with` block's end) ends the session's `*_async` calls as it ends its sync ones:
before, the async platform client quietly opened a new connection pool after `close()` and asked
the platform under the delegated token (an allow after close), a pool nothing ever closed.
"""

from __future__ import annotations

import pytest
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.errors import DelegationException
from tracengent.platform import create_grant
from tracengent.testing import RunningPlatform

from .conftest import delegated_session

_PERMISSION = "hotels:book"


def _delegated_to_hotel_agent(platform: RunningPlatform) -> str:
    _grant, issued = create_grant(
        platform.store,
        platform.policy,
        from_agent="demo-agent",
        to_agent="hotel-agent",
        permissions=["hotels:*"],
        ttl_seconds=600,
    )
    return issued.access_token


async def test_async_authorization_after_close_is_denied_like_sync(
    tracengent_platform: RunningPlatform, tracer: Tracer
) -> None:
    """After `close()`, `authorize_async` denies (the client is closed) and asks nobody."""
    options = tracengent_platform.options("hotel-agent", max_retries=0)
    session = delegated_session(options, _delegated_to_hotel_agent(tracengent_platform), tracer)
    with session:
        assert (await session.authorize_async(_PERMISSION)).allowed
    asked = len(tracengent_platform.store.decisions())
    sync = session.authorize(_PERMISSION)
    after = await session.authorize_async(_PERMISSION)
    assert not sync.allowed
    assert not after.allowed
    assert "closed" in (after.reason or "")
    assert len(tracengent_platform.store.decisions()) == asked


async def test_async_attenuation_after_close_is_refused(
    tracengent_platform: RunningPlatform, tracer: Tracer
) -> None:
    """After `close()`, `attenuate_for_call_async` makes no grant."""
    options = tracengent_platform.options("hotel-agent", max_retries=0)
    session = delegated_session(options, _delegated_to_hotel_agent(tracengent_platform), tracer)
    session.close()
    with pytest.raises(DelegationException, match="closed"):
        await session.attenuate_for_call_async("car-agent", [_PERMISSION])
    assert len(tracengent_platform.store.grants()) == 1
