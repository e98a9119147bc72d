"""After `close()` or `aclose()`, a client's `*_async` governance calls decide nothing, as its
sync calls do not: before, the async platform client quietly opened a new connection pool and
asked the platform (an allow after close), and that pool was never closed."""

from __future__ import annotations

import httpx

from tracengent import TracengentClient
from tracengent.testing import RunningPlatform

_PERMISSION = "payments:refund"


async def test_async_authorization_after_close_is_denied_like_sync(
    tracengent_platform: RunningPlatform,
) -> None:
    """`close()` (sync) ends the async calls too: a deny saying the client is closed."""
    client = TracengentClient(tracengent_platform.options())
    assert (await client.authorize_async(_PERMISSION, {"amount": 10})).allowed
    asked = len(tracengent_platform.store.decisions())
    client.close()
    sync = client.authorize(_PERMISSION, {"amount": 10})
    after = await client.authorize_async(_PERMISSION, {"amount": 10})
    assert not sync.allowed
    assert not after.allowed
    assert "closed" in (after.reason or "")
    assert len(tracengent_platform.store.decisions()) == asked
    await client.aclose()


async def test_async_authorization_after_aclose_is_denied(
    tracengent_platform: RunningPlatform,
) -> None:
    """`aclose()` closes the loop's connections and the later calls ask nobody."""
    client = TracengentClient(tracengent_platform.options())
    assert (await client.authorize_async(_PERMISSION, {"amount": 10})).allowed
    assert await client.has_permission_async(_PERMISSION)
    asked = len(tracengent_platform.store.decisions())
    await client.aclose()
    after = await client.authorize_async(_PERMISSION, {"amount": 10})
    assert not after.allowed
    assert "closed" in (after.reason or "")
    assert len(tracengent_platform.store.decisions()) == asked


async def test_authorization_after_close_is_denied_with_the_applications_http_clients(
    tracengent_platform: RunningPlatform,
) -> None:
    """With `http=` clients of the application's (which `close()` leaves open for it), a closed
    client still asks nobody: sync and async calls deny, and the platform records no decision."""
    with httpx.Client() as http:
        client = TracengentClient(tracengent_platform.options(), http=http)
        assert client.authorize(_PERMISSION, {"amount": 10}).allowed
        asked = len(tracengent_platform.store.decisions())
        client.close()
        after = client.authorize(_PERMISSION, {"amount": 10})
        after_async = await client.authorize_async(_PERMISSION, {"amount": 10})
        assert not after.allowed
        assert "closed" in (after.reason or "")
        assert not after_async.allowed
        assert len(tracengent_platform.store.decisions()) == asked
        # The application's client is still its own, open and usable.
        assert not http.is_closed
