"""How a policy's egress hosts are read: in the form requests' hosts are compared in, and one no
request could ever match refused at load. A route that governs nothing is, under
`unmatched_routes = "allow"`, an unchecked allow of the very requests it was written for."""

from __future__ import annotations

import contextlib
import ipaddress
from typing import Final

import idna

from tracengent.platform._toml_reader import PolicyError

__all__ = ["host_glob"]

_GLOB_CHARACTERS: Final = frozenset("*?[]")
_NOT_IN_A_HOST: Final = frozenset("@\\#%\"'<>^`{|}")


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
    if host.endswith(".") and len(host) > 1:
        host = host[:-1]
    problem = _host_problem(host)
    labels: list[str] = []
    for label in host.split(".") if problem is None else ():
        if label.isascii():
            labels.append(label)
        elif _GLOB_CHARACTERS.intersection(label):
            problem = "a glob in a label that is not ASCII (write that label's IDNA form)"
        else:
            try:
                labels.append(idna.encode(label).decode("ascii"))
            except idna.IDNAError as exc:
                problem = f"a label without an IDNA form ({exc})"
    if problem is not None:
        raise PolicyError(f"{key!r}: expected a host name or glob, got {written!r}: {problem}")
    return ".".join(labels)
