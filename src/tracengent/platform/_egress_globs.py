"""How a policy's egress hosts, paths and methods are read: in the form requests are compared in,
and one no request could ever match refused at load. A route that governs nothing is, under
`unmatched_routes = "allow"`, an unchecked allow of the very requests it was written for."""

from __future__ import annotations

import contextlib
import ipaddress
import re
from typing import Final

import idna

from tracengent.platform._toml_reader import PolicyError

__all__ = ["GLOB_CHARACTERS", "ascii_host", "host_glob", "method_names", "path_glob"]

GLOB_CHARACTERS: Final = frozenset("*?[]")
"""The characters that make a host or path an fnmatch glob rather than a plain name."""
_NOT_IN_A_HOST: Final = frozenset("@\\#%\"'<>^`{|}")
_NOT_IN_A_PATH: Final = {
    "?": "a query (the query is not part of the path)",
    "#": "a fragment",
    "%": "a percent-encoding (write the path decoded, as the SDK sends it)",
    "\\": "a backslash (the SDK sends no such path)",
    "{": "a template parameter (use '*' for a segment)",
    "}": "a template parameter (use '*' for a segment)",
    "[": "a bracket (use '*' for a segment)",
    "]": "a bracket (use '*' for a segment)",
}
_METHOD: Final = re.compile(r"[!#$%&'+.^_`|~0-9A-Za-z-]+|\*")
"""An HTTP method (an RFC 9110 token), or `*` for any."""


def ascii_host(host: str) -> str:
    """`host` (lower case) with each Unicode label in its IDNA form, as the SDK sends it
    (`bücher.example` is `xn--bcher-kva.example`); a label without one is kept as it is (it
    matches no policy host but a `*` glob). An IPv6 address is in its compressed form
    (`2001:db8:0:0::1` is `2001:db8::1`): the URL's spelling is the one the SDK sends."""
    if host.isascii():
        return _compressed_ipv6(host) if ":" in host else host
    labels = host.split(".")
    for index, label in enumerate(labels):
        with contextlib.suppress(idna.IDNAError):
            labels[index] = label if label.isascii() else idna.encode(label).decode("ascii")
    return ".".join(labels)


def _compressed_ipv6(host: str) -> str:
    """`host` in its compressed form when it is an IPv6 address, else as it is."""
    with contextlib.suppress(ValueError):
        return str(ipaddress.IPv6Address(host))
    return host


def _host_problem(host: str) -> str | None:
    """Why no request's host (as `_decide._policy_host` reads it) could match `host`, or None."""
    if "://" in host:
        return "a scheme (write the host alone)"
    if "/" in host:
        return "a path (paths go in a route's 'path')"
    if host.count(":") == 1:
        return "a port (hosts are compared without one)"
    if any(c.isspace() or not c.isprintable() or c in _NOT_IN_A_HOST for c in host):
        return "a character no host name has"
    if "" in host.split("."):
        return "an empty label"
    return None


def host_glob(key: str, written: str) -> str:
    """`written`, a host name or fnmatch glob, as requests' hosts are compared: lower case,
    IDNA-ASCII (`bücher.example` is `xn--bcher-kva.example`, as the SDK sends it), without IPv6
    brackets or the trailing dot of a fully qualified name.

    Raises:
        PolicyError: naming `key`, when no request's host could match it: it has a scheme, a
            port, a path or a character no host name has, or a label without an IDNA form.
    """
    host = written.lower()
    if host.startswith("[") and host.endswith("]"):
        with contextlib.suppress(ValueError):
            host = str(ipaddress.IPv6Address(host[1:-1]))
    elif ":" in host:
        host = _compressed_ipv6(host)
    if host.endswith(".") and len(host) > 1:
        host = host[:-1]
    problem = _host_problem(host)
    labels: list[str] = []
    for label in host.split(".") if problem is None else ():
        if label.isascii():
            labels.append(label)
        elif GLOB_CHARACTERS.intersection(label):
            problem = "a glob in a label that is not ASCII (write that label's IDNA form)"
        else:
            try:
                labels.append(idna.encode(label).decode("ascii"))
            except idna.IDNAError as exc:
                problem = f"a label without an IDNA form ({exc})"
    if problem is not None:
        raise PolicyError(f"{key!r}: expected a host name or glob, got {written!r}: {problem}")
    return ".".join(labels)


def path_glob(key: str, written: str) -> str:
    """`written`, a route's path glob (`*` matches any run of characters, `/` included).

    Raises:
        PolicyError: naming `key`, when no request's path (decoded, without its query, as the
            SDK sends it) could match it.
    """
    if not written.startswith("/") and written != "*":
        raise PolicyError(f"{key!r}: expected a path glob starting with '/', got {written!r}")
    for character, problem in _NOT_IN_A_PATH.items():
        if character in written:
            raise PolicyError(f"{key!r}: expected a path glob, got {written!r}: {problem}")
    return written


def method_names(key: str, written: tuple[str, ...] | None) -> tuple[str, ...]:
    """`written`, a route's methods, upper case; `("*",)` (any) when it is None (left out).

    Raises:
        PolicyError: naming `key`, for an empty list (which would match no request) or a value
            that is no HTTP method (`" POST"`, `"GET,POST"`).
    """
    if written is None:
        return ("*",)
    if not written:
        raise PolicyError(f"{key!r}: expected at least one method (leave it out for any method)")
    for method in written:
        if _METHOD.fullmatch(method) is None:
            raise PolicyError(f"{key!r}: expected HTTP methods like 'POST' or '*', got {method!r}")
    return tuple(m.upper() for m in written)
