"""The FastAPI dependency guards WebSocket endpoints too (it crashed with a missing `request`)."""

from __future__ import annotations

import pytest
from fastapi import Depends, FastAPI, WebSocket
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tracengent.integrations import fastapi as tg_fastapi

from .test_integrations import StubClient


def _app(client: StubClient, ran: list[str]) -> FastAPI:
    app = FastAPI()
    tg_fastapi.install_tracengent(app, client)

    @app.websocket(
        "/bookings", dependencies=[Depends(tg_fastapi.require_agent_permission("hotels:book"))]
    )
    async def bookings(websocket: WebSocket) -> None:
        ran.append("bookings")
        await websocket.accept()
        await websocket.send_text("booked")
        await websocket.close()

    return app


def test_an_allowed_websocket_endpoint_runs() -> None:
    """An allowed permission lets the WebSocket endpoint accept and answer."""
    client = StubClient("hotels:book")
    ran: list[str] = []
    with TestClient(_app(client, ran)) as http, http.websocket_connect("/bookings") as socket:
        assert socket.receive_text() == "booked"
    assert ran == ["bookings"]
    assert client.asked == ["hotels:book"]


def test_a_denied_websocket_is_closed_with_policy_violation_and_never_runs() -> None:
    """A deny closes the handshake with 1008 (policy violation), the reason naming why."""
    ran: list[str] = []
    with (
        TestClient(_app(StubClient(), ran)) as http,
        pytest.raises(WebSocketDisconnect) as closed,
        http.websocket_connect("/bookings"),
    ):
        pass
    assert closed.value.code == 1008
    assert "hotels:book" in closed.value.reason
    assert "over limit" in closed.value.reason
    assert ran == []
