"""A browser that goes away while posting an Approve/Deny form (a tab closed mid-request) ends
that request quietly, as the platform's own endpoints do: the console does not raise (which
uvicorn logs as an ASGI application error with a traceback) and decides nothing."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest

from tests.support.asgi import post_scope
from tracengent.platform import PlatformStore, default_policy
from tracengent.platform._app import create_app

_FORM = [(b"content-type", b"application/x-www-form-urlencoded")]


@pytest.mark.parametrize("verb", ["approve", "deny"])
def test_a_disconnect_mid_form_ends_the_decision_quietly(tmp_path: Path, verb: str) -> None:
    """Part of the form, then `http.disconnect`: the app returns, the approval stays pending."""
    store = PlatformStore(tmp_path / "db.sqlite3")
    held = store.create_approval(
        agent_id="demo-agent", permission="payments:refund", context={}, ttl_seconds=600
    )
    app = create_app(default_policy(), store)
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b"csrf_tok", "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(_message: MutableMapping[str, Any]) -> None:
        return None

    asyncio.run(
        app(post_scope(f"/console/approvals/{held.approval_id}/{verb}", _FORM), receive, send)
    )
    found = store.approval(held.approval_id)
    assert found is not None
    assert found.status == "pending"
