"""Permission pattern matching (wire contract §9), shared with the platform."""

from __future__ import annotations

__all__ = ["permission_matches"]


def permission_matches(pattern: str, permission: str) -> bool:
    """True when a granted `pattern` covers the requested `permission`.

    A pattern matches when it is `*`, equal to the permission, or `ns:*` and the permission starts
    with `ns:`. Anything else (including non-strings) does not match.
    """
    if not isinstance(pattern, str) or not isinstance(permission, str) or not permission:
        return False
    if pattern == "*" or pattern == permission:
        return True
    if pattern.endswith(":*"):
        return permission.startswith(pattern[:-1])
    return False
