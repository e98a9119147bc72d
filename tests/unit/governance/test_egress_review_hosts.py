"""`governed_hosts` patterns match hosts as the platform's egress allowlist does, on the host as
it goes on the wire (IDNA-ASCII), with ports and IPv6 literals matching sensibly."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from tests.unit.tools.stubs import ALLOW
from tracengent._governance._hosts import _read_patterns, is_governed_host

from .egress_support import World, scripted_governor, send


@pytest.mark.parametrize(
    ("host", "port", "patterns", "governed"),
    [
        # fnmatch globs, as the platform's allowlist reads them.
        ("api.stripe.com", None, ["*"], True),
        ("api.stripe.com", None, ["*stripe.com"], True),
        ("api.stripe.com", None, ["api.*.com"], True),
        ("api.stripe.org", None, ["api.*.com"], False),
        ("api2.example.com", None, ["api[0-9].example.com"], True),
        ("eu.api.example.com", None, ["*.example.com"], True),
        ("example.com", None, ["*.example.com"], False),
        ("evil-example.com", None, ["*.example.com"], False),
        ("API.Example.COM.", None, ["api.example.com."], True),
        ("api.example.com", None, ["", "  "], False),
        # IDNA: either side in either form.
        ("xn--bcher-kva.example", None, ["xn--bcher-kva.example"], True),
        ("bücher.example", None, ["xn--bcher-kva.example"], True),
        ("xn--bcher-kva.example", None, ["Bücher.example"], True),
        ("api.xn--mnchen-3ya.example", None, ["*.münchen.example"], True),
        ("api.münchen.example", None, ["*.xn--mnchen-3ya.example"], True),
        ("buecher.example", None, ["bücher.example"], False),
        # Ports: a pattern with one matches that port only (an unknown port matches).
        ("api.stripe.com", 443, ["api.stripe.com:443"], True),
        ("api.stripe.com", 8443, ["api.stripe.com:443"], False),
        ("api.stripe.com", None, ["api.stripe.com:443"], True),
        ("api.stripe.com", 8443, ["api.stripe.com"], True),
        ("127.0.0.1", 8080, ["127.0.0.*"], True),
        # IPv6 literals, compared as addresses, with or without brackets and a port.
        ("::1", 8080, ["[::1]"], True),
        ("::1", 8080, ["::1"], True),
        ("[::1]", None, ["0:0:0:0:0:0:0:1"], True),
        ("::1", 8080, ["[::1]:8080"], True),
        ("::1", 80, ["[::1]:8080"], False),
        ("::2", None, ["[::1]"], False),
        ("api.example.com", None, ["[::1]"], False),
    ],
)
def test_is_governed_host(host: str, port: int | None, patterns: list[str], governed: bool) -> None:
    """Each pattern form matches the hosts (and ports) it names, and no other."""
    assert is_governed_host(host, patterns, port=port) is governed


@pytest.mark.parametrize(
    "pattern",
    ["https://api.example.com", "api.example.com/v1", "user@api.example.com", "bü*.example"],
)
def test_unreadable_pattern_governs_every_host_and_says_so(
    pattern: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A pattern that cannot be read fails closed: every host is governed, logged once."""
    _read_patterns.cache_clear()
    with caplog.at_level(logging.WARNING, logger="tracengent.governance.egress"):
        assert is_governed_host("anything.test", [pattern])
        assert is_governed_host("other.test", [pattern])
    (record,) = caplog.records
    assert repr(pattern) in record.getMessage()


@pytest.mark.parametrize(
    ("url", "hosts"),
    [
        ("https://xn--bcher-kva.example/pay", ["xn--bcher-kva.example"]),
        ("https://bücher.example/pay", ["xn--bcher-kva.example"]),
        ("https://api.stripe.com/v1/refunds", ["api.*.com"]),
        ("https://api.stripe.com/v1/refunds", ["*"]),
        ("https://api.stripe.com/v1/refunds", ["api.stripe.com:443"]),
        ("http://[::1]:8080/x", ["[::1]:8080"]),
    ],
)
async def test_governor_authorizes_requests_to_matching_hosts(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], url: str, hosts: list[str]
) -> None:
    """A request whose wire host (and port) matches is authorized before it is sent."""
    gate, platform = scripted_governor(dict(ALLOW), spans[0], hosts=hosts)
    world = World()
    await send(mode, gate, world, "POST", url, json={"amount": 10})
    assert len(platform.requests) == 1
    assert len(world.received) == 1


@pytest.mark.parametrize(
    ("url", "hosts"),
    [
        ("https://api.stripe.com:8443/v1/refunds", ["api.stripe.com:443"]),
        ("http://[::1]:9090/x", ["[::1]:8080"]),
        ("https://api.stripe.org/v1/refunds", ["api.*.com"]),
    ],
)
async def test_governor_leaves_other_hosts_alone(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], url: str, hosts: list[str]
) -> None:
    """A request whose host or port does not match is sent without asking the platform."""
    gate, platform = scripted_governor(dict(ALLOW), spans[0], hosts=hosts)
    world = World()
    await send(mode, gate, world, "POST", url, json={"amount": 10})
    assert platform.requests == []
    assert len(world.received) == 1
