"""A client that goes away while sending its body (an agent killed mid-flush, an SDK timeout)
ends that request quietly: the app does not raise (which uvicorn logs as an ASGI application
error with a traceback), and nothing is stored or counted as rejected."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest

from tests.support.asgi import post_scope
from tracengent.platform import PlatformStore, default_policy
from tracengent.platform._app import create_app


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/v1/ingest/events", [(b"x-ingest-key", b"agk_demo")]),
        ("/v1/authorize", [(b"x-ingest-key", b"agk_demo")]),
        ("/v1/oauth/token", []),
    ],
)
def test_a_disconnect_mid_body_ends_the_request_quietly(
    tmp_path: Path, path: str, headers: list[tuple[bytes, bytes]]
) -> None:
    """Part of a body, then `http.disconnect`: the app returns, nothing stored or counted."""
    store = PlatformStore(tmp_path / "db.sqlite3")
    app = create_app(default_policy(), store)
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'[{"type":', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(post_scope(path, headers), receive, send))
    assert (store.events(), store.decisions(), store.counters()) == ([], [], {})
