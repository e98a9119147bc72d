"""The Flask binding guards `async def` views too (Flask runs them with `flask[async]`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from flask import Flask

from tracengent.integrations import flask as tg_flask

from .test_integrations import StubClient


class AsyncioFlask(Flask):
    """Runs async views with `asyncio.run` (what `flask[async]` does with asgiref)."""

    def async_to_sync(self, func: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        return lambda *args, **kwargs: asyncio.run(func(*args, **kwargs))


def _app(client: StubClient, ran: list[str]) -> Flask:
    app = AsyncioFlask(__name__)
    app.testing = True
    tg_flask.install_tracengent(app, client)

    @app.post("/refund/<int:amount>")
    @tg_flask.require_agent_permission("payments:refund")
    async def refund(amount: int) -> dict[str, int]:
        await asyncio.sleep(0)
        ran.append("refund")
        return {"refunded": amount}

    return app


def test_an_allowed_async_view_runs_and_answers() -> None:
    """An async view behind the decorator is awaited: its answer, not a coroutine, is returned."""
    client = StubClient("payments:refund")
    ran: list[str] = []
    response = _app(client, ran).test_client().post("/refund/12")
    assert response.status_code == 200
    assert response.get_json() == {"refunded": 12}
    assert ran == ["refund"]
    assert client.asked == ["payments:refund"]


def test_a_denied_async_view_answers_403_and_never_runs() -> None:
    """A deny answers the contract's 403 body and the async view's body never starts."""
    ran: list[str] = []
    response = _app(StubClient(), ran).test_client().post("/refund/12")
    assert response.status_code == 403
    assert response.get_json() == {
        "error": "forbidden",
        "permission": "payments:refund",
        "reason": "over limit",
    }
    assert ran == []
