"""Which hosts zero-code egress gating governs: `governed_hosts` patterns, matched as the platform's
egress allowlist matches hosts.

A pattern is an fnmatch glob over the host name (`api.example.com`, `*.example.com`,
`*stripe.com`, `api.*.com`, `*`), optionally with a port (`api.example.com:8443`: that port only),
or an IP literal (`127.0.0.1`, `[::1]`, `::1`, `[::1]:8080`), compared as an address. An IP
literal is read on both sides as the OS reads it: the legacy IPv4 forms `inet_aton` accepts
(`2130706433`, `127.1`, `0x7f000001`, `0177.0.0.1`), an IPv4-mapped IPv6 address
(`::ffff:127.0.0.1`) as its IPv4 address, an IPv6 zone (`%eth0`) ignored, and the unspecified
address (`0.0.0.0`, `::`) as the loopback Linux and macOS connect it to (`127.0.0.1`, `::1`); so
`127.0.0.1` governs every spelling of it, and a glob is matched against the canonical address
too. `localhost` (RFC 6761: always the loopback) reaches `127.0.0.1` and `::1`: either pattern
governs it, and a `localhost` pattern governs them. Matching is on the ASCII (IDNA) form of both sides, as the request goes on the wire:
`bücher.example` and `xn--bcher-kva.example` are one host however either is written. Case and a
trailing dot do not matter. A request without a known port (a bare host name) matches a pattern with one.

A pattern that cannot be read (a scheme, a path, an IDNA label that cannot be encoded, a non-ASCII
label holding glob characters) governs every host, and is logged once: governance asked for is
never silently off.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import ipaddress
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import httpx

__all__ = ["authority_host", "is_governed_host", "request_port"]

_logger = logging.getLogger("tracengent.governance.egress")

_GLOB_CHARACTERS: Final = frozenset("*?[]")
_NOT_IN_A_HOST: Final = frozenset("/@\\#")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_BAD_PORT: Final = "a port must be a number from 0 to 65535"
_IPV4_PART: Final = re.compile(r"0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*")
"""One part of a legacy IPv4 literal (lower-case): hexadecimal, octal or decimal."""

_IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_IPV4_LOOPBACK: Final = ipaddress.IPv4Address("127.0.0.1")
_IPV6_LOOPBACK: Final = ipaddress.IPv6Address("::1")
_LOCALHOST: Final = "localhost"
_LOOPBACKS: Final = (_IPV4_LOOPBACK, _IPV6_LOOPBACK)
"""The addresses `localhost` reaches (RFC 6761: always the loopback)."""


@dataclass(frozen=True)
class _HostPattern:
    """One `governed_hosts` entry, read.

    Attributes:
        glob: the IDNA-ASCII, lower-case fnmatch glob of the host; None for an IP literal.
        addresses: the canonical address of an IP literal (`_ip_address`), or the loopbacks
            of `localhost`; empty for any other name.
        port: only requests to this port match; None: any port.
        unreadable: why the pattern could not be read (it then governs every host); None.
    """

    glob: str | None = None
    addresses: frozenset[_IpAddress] = frozenset()
    port: int | None = None
    unreadable: str | None = None

    def matches(self, host: str, reached: tuple[_IpAddress, ...], port: int | None) -> bool:
        """Whether `host` (ASCII, lower-case, no trailing dot or brackets), which reaches the
        canonical addresses `reached` (`_reached`), on `port` matches."""
        if self.unreadable is not None:
            return True
        if self.port is not None and port is not None and port != self.port:
            return False
        if self.addresses and not self.addresses.isdisjoint(reached):
            return True
        if self.glob is None:
            return False
        return fnmatch.fnmatchcase(host, self.glob) or (
            bool(reached) and any(fnmatch.fnmatchcase(str(a), self.glob) for a in reached)
        )


def _ipv6(text: str) -> ipaddress.IPv6Address | None:
    try:
        return ipaddress.IPv6Address(text.partition("%")[0])
    except ValueError:
        return None


def _legacy_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """`text` read as `inet_aton` reads an IPv4 address (1 to 4 parts, each decimal, `0x` hex
    or `0` octal, the last filling the remaining bytes); None when it is not one."""
    parts = text.split(".")
    if len(parts) > 4 or not all(_IPV4_PART.fullmatch(part) for part in parts):
        return None
    values = [_ipv4_part(part) for part in parts]
    *leading, last = values
    if any(value > 255 for value in leading) or last >= 256 ** (4 - len(leading)):
        return None
    number = last
    for shift, value in enumerate(reversed(leading), start=4 - len(leading)):
        number |= value << (8 * shift)
    return ipaddress.IPv4Address(number)


def _ipv4_part(part: str) -> int:
    """The value of one `_IPV4_PART`."""
    if part.startswith("0x"):
        return int(part[2:] or "0", 16)
    return int(part, 8) if part.startswith("0") else int(part)


def _ip_address(host: str) -> _IpAddress | None:
    """The address an IP-literal `host` (lower-case, no brackets or trailing dot) reaches, in
    one canonical form (module docstring); None when `host` is a name."""
    address: _IpAddress | None
    if ":" in host:
        address = _ipv6(host)
        if address is not None and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
    else:
        address = _legacy_ipv4(host)
    if address is not None and address.is_unspecified:
        # Linux and macOS connect `0.0.0.0` / `::` to the local host's loopback.
        return _IPV4_LOOPBACK if address.version == 4 else _IPV6_LOOPBACK
    return address


def _reached(host: str) -> tuple[_IpAddress, ...]:
    """The canonical addresses a request to `host` (lower-case, no brackets or trailing dot)
    reaches without asking DNS: an IP literal's, the loopbacks for `localhost`, else none."""
    if host == _LOCALHOST:
        return _LOOPBACKS
    address = _ip_address(host)
    return () if address is None else (address,)


def _idna_ascii(name: str) -> str:
    """A non-ASCII host name or label in its `xn--` form, encoded as httpx encodes a URL's host.

    Raises:
        ValueError: IDNA cannot encode it.
    """
    try:
        return httpx.URL("http://host.invalid/").copy_with(host=name).raw_host.decode("ascii")
    except httpx.InvalidURL as exc:
        raise ValueError(str(exc)) from exc


def _unreadable(why: str) -> _HostPattern:
    return _HostPattern(unreadable=why)


def _read_pattern(raw: object) -> _HostPattern | None:
    """`raw` read as a host pattern; None for an empty one (it matches nothing)."""
    if not isinstance(raw, str):
        return _unreadable("not a string")
    text = raw.strip().lower()
    if not text:
        return None
    port: int | None = None
    if text.startswith("["):
        literal, bracket, rest = text[1:].partition("]")
        address = _ip_address(literal) if ":" in literal else None
        if not bracket or address is None:
            return _unreadable("not an IPv6 literal")
        if not rest:
            return _HostPattern(addresses=frozenset({address}))
        if rest[0] != ":" or not _is_port(rest[1:]):
            return _unreadable(_BAD_PORT)
        return _HostPattern(addresses=frozenset({address}), port=int(rest[1:]))
    if text.count(":") > 1:
        address = _ip_address(text)
        if address is None:
            return _unreadable("not a host name or an IPv6 literal")
        return _HostPattern(addresses=frozenset({address}))
    if ":" in text:
        text, _, port_text = text.partition(":")
        if not _is_port(port_text):
            return _unreadable(_BAD_PORT)
        port = int(port_text)
    if not text or any(c in _NOT_IN_A_HOST or c.isspace() for c in text):
        return _unreadable("not a host name (no scheme, path or user info)")
    ipv4 = _ip_address(text.rstrip("."))  # no ":" left: an IPv4 literal, or None
    if ipv4 is not None:
        return _HostPattern(addresses=frozenset({ipv4}), port=port)
    labels: list[str] = []
    for label in text.rstrip(".").split("."):
        if label.isascii():
            labels.append(label)
        elif _GLOB_CHARACTERS.intersection(label):
            return _unreadable("write a non-ASCII label with globs in its xn-- form")
        else:
            try:
                labels.append(_idna_ascii(label))
            except ValueError as exc:
                return _unreadable(f"IDNA cannot encode {label!r}: {exc}")
    glob = ".".join(labels)
    return _HostPattern(glob=glob, addresses=frozenset(_reached(glob)), port=port)


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and int(text) <= 65535


@functools.lru_cache(maxsize=32)
def _read_patterns(patterns: tuple[object, ...]) -> tuple[_HostPattern, ...]:
    """The readable patterns of a `governed_hosts` list (cached: the list rarely changes)."""
    read: list[_HostPattern] = []
    for raw in patterns:
        pattern = _read_pattern(raw)
        if pattern is None:
            continue
        if pattern.unreadable is not None:
            _logger.warning(
                "tracengent: governed_hosts entry %r cannot be read (%s); every host is "
                "governed until it is fixed",
                raw,
                pattern.unreadable,
            )
        read.append(pattern)
    return tuple(read)


def _ascii_host(host: str) -> str:
    """`host` as it goes on the wire: IDNA-ASCII, lower-case, no trailing dot or brackets."""
    name = host.strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if not name.isascii():
        # A name no URL can carry stays as given: only an unreadable pattern matches it then.
        with contextlib.suppress(ValueError):
            name = _idna_ascii(name)
    return name


def authority_host(authority: str) -> str:
    """The host of an authority (`API.Example.com.:8443`, `[::1]:80`: a Host header's value) as
    it goes on the wire: IDNA-ASCII, lower-case, no port, trailing dot or brackets."""
    text = authority.strip()
    if text.startswith("["):
        end = text.find("]")
        return _ascii_host(text[: end + 1] if end != -1 else text)
    return _ascii_host(text.partition(":")[0])


def is_governed_host(host: str, patterns: Sequence[str], *, port: int | None = None) -> bool:
    """Whether a request to `host` (and `port`, when known) matches one of `patterns`.

    `host` may be written in Unicode or IDNA-ASCII, with or without a trailing dot or the
    brackets of an IPv6 literal. Never raises; see the module docstring for the patterns.
    """
    name = _ascii_host(host)
    reached = _reached(name)
    return any(pattern.matches(name, reached, port) for pattern in _read_patterns(tuple(patterns)))


def request_port(url: httpx.URL) -> int | None:
    """The port a request to `url` goes to: its own, else its scheme's default (None: unknown)."""
    return url.port if url.port is not None else _DEFAULT_PORTS.get(url.scheme)
