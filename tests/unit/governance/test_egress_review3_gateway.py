"""Review 3: `governed_client` refuses httpx 0.27's `proxies=` as it refuses `proxy=`.

The project supports httpx >= 0.27, whose `proxies=` mounts a proxy transport for every URL: the
client would send each request through it, around the gated transport, and no request would be
authorized. It is refused (TypeError naming the bypass) on every httpx version.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider

from tests.unit.tools.stubs import DENY
from tracengent import governed_async_client, governed_client

from .egress_support import scripted_governor


@pytest.mark.parametrize("factory", [governed_client, governed_async_client])
def test_proxies_are_refused_as_a_bypass(factory: Callable[..., object]) -> None:
    gate, platform = scripted_governor(dict(DENY), TracerProvider().get_tracer("test"))
    with pytest.raises(TypeError, match="proxies: it would bypass the gate"):
        factory(gate, proxies="http://127.0.0.1:9")
    assert platform.requests == []


def test_a_plain_client_still_takes_its_other_arguments() -> None:
    gate, _ = scripted_governor(dict(DENY), TracerProvider().get_tracer("test"))
    with governed_client(gate, base_url="https://api.example.com", timeout=3) as http:
        assert http.base_url == httpx.URL("https://api.example.com")
