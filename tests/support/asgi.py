"""The ASGI scope of one HTTP POST to the local platform's app, for tests that drive the app
directly (a client that goes away mid-request, which a real HTTP client cannot be made to do
at a chosen moment)."""

from __future__ import annotations

from typing import Any

__all__ = ["post_scope"]


def post_scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """An HTTP/1.1 POST to `path` on 127.0.0.1:8080 from 127.0.0.1, with a `host` header and
    `headers` after it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8080"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
