"""Review 4: a TLS server name given as bytes names a host too.

httpcore hands `sni_hostname` to `ssl`, which takes bytes as well as text (`b"api.example.com"`
goes on the wire as that server name), but the gate only read a `str`: a request to an ungoverned
address naming a governed host in bytes left unchecked, and a governed client authorized the URL's
host while the CDN routed the request to the other.
"""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from tests.unit.tools.stubs import ALLOW

from .conftest import either
from .egress_support import scripted_governor


@pytest.mark.parametrize("name", [b"api.example.com", bytearray(b"API.example.com.")])
async def test_a_server_name_in_bytes_is_governed_and_denied(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], name: bytes | bytearray
) -> None:
    gate, platform = scripted_governor(dict(ALLOW), spans[0], hosts=["api.example.com"])
    request = httpx.Request("GET", "https://203.0.113.7/v1", extensions={"sni_hostname": name})
    assert gate.is_governed(request)
    with pytest.raises(ToolDeniedException) as denied:
        await either(mode, lambda: gate.check(request), lambda: gate.check_async(request))
    assert denied.value.outcome == "host_ambiguous"
    assert platform.requests == []


async def test_the_same_server_name_in_bytes_is_one_host(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    gate, platform = scripted_governor(dict(ALLOW), spans[0])
    request = httpx.Request(
        "GET", "https://api.example.com/v1", extensions={"sni_hostname": b"api.example.com"}
    )
    await either(mode, lambda: gate.check(request), lambda: gate.check_async(request))
    assert platform.requests[0]["host"] == "api.example.com"
