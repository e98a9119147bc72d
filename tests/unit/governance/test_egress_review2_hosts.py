"""`governed_hosts` IP literals govern every spelling of their address (review 2).

httpx passes `2130706433`, `127.1`, `0x7f000001` to the OS resolver as names, and `inet_aton`
reads them as 127.0.0.1; `[::ffff:127.0.0.1]` reaches it too. Before, `governed_hosts=
["127.0.0.1"]` matched none of them: the requests left ungoverned.
"""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from tests.unit.tools.stubs import ALLOW
from tracengent._governance._hosts import is_governed_host

from .egress_support import World, scripted_governor, send

LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "2130706433",
    "127.1",
    "127.0.1",
    "0x7f000001",
    "0x7f.0x1",
    "0177.0.0.1",
    "0177.0.0.01",
    "127.0.0.1.",
    "[::ffff:127.0.0.1]",
    "::ffff:7f00:1",
    "[0:0:0:0:0:ffff:7f00:1]",
]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
@pytest.mark.parametrize("pattern", ["127.0.0.1", "127.1", "[::ffff:127.0.0.1]", "127.0.0.*"])
def test_every_spelling_of_an_address_is_governed(host: str, pattern: str) -> None:
    """Host and pattern are both read as the address they reach."""
    assert is_governed_host(host, [pattern], port=80)


@pytest.mark.parametrize(
    ("host", "patterns", "governed"),
    [
        ("2130706433", ["127.0.0.1:8080"], True),
        ("2130706434", ["127.0.0.1"], False),
        ("127.2", ["127.0.0.1"], False),
        ("256.1", ["0.0.1.1"], False),
        ("08", ["0.0.0.8"], False),
        ("api.example.com", ["127.0.0.1"], False),
        ("fe80::1%25eth0", ["[fe80::1]"], True),
        ("[::1]", ["::ffff:0.0.0.1"], False),
    ],
)
def test_ip_literal_edges(host: str, patterns: list[str], governed: bool) -> None:
    """Only what `inet_aton` reads as the same address matches; names stay names."""
    assert is_governed_host(host, patterns, port=8080) is governed


def test_a_port_still_restricts_an_ip_pattern() -> None:
    """`127.0.0.1:8080` governs 2130706433 on 8080 only."""
    assert not is_governed_host("2130706433", ["127.0.0.1:8080"], port=9090)


@pytest.mark.parametrize("host", ["2130706433", "127.1", "0x7f000001", "[::ffff:127.0.0.1]"])
async def test_gate_authorizes_a_request_to_another_spelling(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], host: str
) -> None:
    """A request to `http://2130706433/` with `governed_hosts=["127.0.0.1"]` is authorized."""
    gate, platform = scripted_governor(dict(ALLOW), spans[0], hosts=["127.0.0.1"])
    world = World()
    await send(mode, gate, world, "GET", f"http://{host}:8080/v1/anything")
    assert len(platform.requests) == 1
