"""`is_loopback_host_header`: which `Host` headers name loopback (the API answers only those)."""

from __future__ import annotations

import pytest

from tracengent.platform._server import is_loopback_host_header


@pytest.mark.parametrize(
    "value",
    ["127.0.0.1", "127.0.0.1:8080", "127.0.0.1:", "localhost:8080", "LocalHost", "[::1]",
     "[::1]:8080", "[::1]:", "127.5.6.7:1"],
)  # fmt: skip
def test_loopback_names_with_or_without_a_port(value: str) -> None:
    """A loopback name or address, bracketed when IPv6, with an optional (empty) numeric port."""
    assert is_loopback_host_header(value)


@pytest.mark.parametrize(
    "value",
    ["", "attacker.example", "attacker.example:8080", "localhost.attacker.example",
     "127.0.0.1.nip.io", "127.0.0.1:80:80", "127.0.0.1:http", "[::1]x", "[::1", "::1",
     "[::2]:8080", "10.0.0.1:8080", "evil@127.0.0.1"],
)  # fmt: skip
def test_other_names_are_not_loopback(value: str) -> None:
    """Any other name, a malformed port, or an unbracketed IPv6 address is not loopback."""
    assert not is_loopback_host_header(value)
