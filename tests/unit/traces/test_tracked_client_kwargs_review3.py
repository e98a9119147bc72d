"""`tracked_client` applies the transport settings it is given (review 3).

httpx applies `verify`, `cert`, `http2`, `limits`, ... to the transport it builds itself, never to
one it is handed: `tracked_client(client, verify=False)` silently verified certificates anyway
(the tracking transport's inner transport was built without them), and `transport=` failed with a
bare "multiple values" TypeError. The settings now build the inner transport, as
`governed_client` does; `transport`, `mounts` and `proxy` (which would route requests around the
tracking) are refused with a message naming `inner=`.
"""

from __future__ import annotations

import httpx
import pytest

from tracengent import TracengentClient, tracked_async_client, tracked_client
from tracengent._tracking import AsyncTrackingTransport, TrackingTransport

from .conftest import platform_options


@pytest.fixture
def client(no_global_provider: None) -> TracengentClient:
    return TracengentClient(
        platform_options(), transport=httpx.MockTransport(lambda r: httpx.Response(200))
    )


def test_verify_false_reaches_the_transport_that_sends(client: TracengentClient) -> None:
    with tracked_client(client, verify=False) as http:
        tracking = http._transport
        assert isinstance(tracking, TrackingTransport)
        inner = tracking._inner
        assert isinstance(inner, httpx.HTTPTransport)
        assert inner._pool._ssl_context is not None
        assert inner._pool._ssl_context.check_hostname is False
    client.close()


async def test_the_async_flavour_too(client: TracengentClient) -> None:
    async with tracked_async_client(client, verify=False) as http:
        tracking = http._transport
        assert isinstance(tracking, AsyncTrackingTransport)
        inner = tracking._inner
        assert isinstance(inner, httpx.AsyncHTTPTransport)
        assert inner._pool._ssl_context is not None
        assert inner._pool._ssl_context.check_hostname is False
    client.close()


@pytest.mark.parametrize("name", ["transport", "mounts", "proxy"])
def test_arguments_that_would_skip_tracking_are_refused(
    client: TracengentClient, name: str
) -> None:
    value: object = {"all://": httpx.HTTPTransport()} if name == "mounts" else None
    if name == "transport":
        value = httpx.HTTPTransport()
    if name == "proxy":
        value = "http://127.0.0.1:9"
    arguments: dict[str, object] = {name: value}
    with pytest.raises(TypeError, match="inner="):
        tracked_client(client, **arguments)  # type: ignore[arg-type]
    client.close()
