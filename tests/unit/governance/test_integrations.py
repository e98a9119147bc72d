"""Framework bindings, exercised through each framework's own test client."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from flask import Flask

from opentelemetry.exporter.tracengent.errors import NotAuthorizedException
from opentelemetry.exporter.tracengent.jsonvalue import JsonValue
from opentelemetry.exporter.tracengent.wire import AuthObligations
from tracengent.integrations import SupportsEnsureAuthorized
from tracengent.integrations import fastapi as tg_fastapi
from tracengent.integrations import flask as tg_flask


class StubClient:
    """Allows only the permissions it was given; records what it was asked."""

    def __init__(self, *allowed: str) -> None:
        self.allowed = set(allowed)
        self.asked: list[str] = []

    def ensure_authorized(
        self, permission: str, context: Mapping[str, JsonValue] | None = None
    ) -> AuthObligations | None:
        self.asked.append(permission)
        if permission not in self.allowed:
            raise NotAuthorizedException(permission, "over limit")
        return None

    async def ensure_authorized_async(
        self, permission: str, context: Mapping[str, JsonValue] | None = None
    ) -> AuthObligations | None:
        return self.ensure_authorized(permission, context)


def _fastapi_app(client: StubClient, *, install: bool = True) -> FastAPI:
    app = FastAPI()
    if install:
        tg_fastapi.install_tracengent(app, client)

    @app.post(
        "/refund", dependencies=[Depends(tg_fastapi.require_agent_permission("payments:refund"))]
    )
    async def refund() -> dict[str, str]:
        return {"ok": "refunded"}

    @app.post(
        "/explicit",
        dependencies=[Depends(tg_fastapi.require_agent_permission("flights:book", client=client))],
    )
    async def explicit() -> dict[str, str]:
        return {"ok": "booked"}

    return app


def test_stub_satisfies_the_protocol() -> None:
    """Any object with both ensure methods is accepted as a client."""
    assert isinstance(StubClient(), SupportsEnsureAuthorized)


def test_fastapi_allows_an_allowed_permission() -> None:
    """An allowed permission lets the endpoint run."""
    client = StubClient("payments:refund")
    with TestClient(_fastapi_app(client)) as http:
        response = http.post("/refund")
    assert response.status_code == 200
    assert response.json() == {"ok": "refunded"}
    assert client.asked == ["payments:refund"]


def test_fastapi_denial_answers_403_with_the_contract_body() -> None:
    """A denied permission answers 403 `{"error", "permission", "reason"}` and skips the endpoint."""
    with TestClient(_fastapi_app(StubClient())) as http:
        response = http.post("/refund")
    assert response.status_code == 403
    assert response.json() == {
        "error": "forbidden",
        "permission": "payments:refund",
        "reason": "over limit",
    }


def test_fastapi_explicit_client_without_install_still_forbids() -> None:
    """A dependency given its client works without install_tracengent (403, body under detail)."""
    with TestClient(_fastapi_app(StubClient(), install=False)) as http:
        response = http.post("/explicit")
    assert response.status_code == 403
    assert response.json()["detail"]["permission"] == "flights:book"


def _flask_app(client: StubClient) -> Flask:
    app = Flask(__name__)
    tg_flask.install_tracengent(app, client)

    @app.post("/refund")
    @tg_flask.require_agent_permission("payments:refund")
    def refund() -> dict[str, str]:
        return {"ok": "refunded"}

    return app


def test_flask_allows_an_allowed_permission() -> None:
    """An allowed permission lets the view run."""
    response = _flask_app(StubClient("payments:refund")).test_client().post("/refund")
    assert response.status_code == 200
    assert response.get_json() == {"ok": "refunded"}


def test_flask_denial_answers_403_with_the_contract_body() -> None:
    """A denied permission answers 403 `{"error", "permission", "reason"}`."""
    response = _flask_app(StubClient()).test_client().post("/refund")
    assert response.status_code == 403
    assert response.get_json() == {
        "error": "forbidden",
        "permission": "payments:refund",
        "reason": "over limit",
    }


def test_flask_without_a_client_is_a_configuration_error() -> None:
    """Using the decorator with no client and no install_tracengent fails loudly."""
    app = Flask(__name__)

    @app.get("/x")
    @tg_flask.require_agent_permission("p:x")
    def view() -> str:
        return "x"

    app.testing = True
    with pytest.raises(RuntimeError, match="install_tracengent"):
        app.test_client().get("/x")


@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_missing_framework_names_the_extra(framework: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing a binding without its framework raises ImportError naming the pip extra."""
    monkeypatch.setitem(sys.modules, framework, None)
    monkeypatch.delitem(sys.modules, f"tracengent.integrations.{framework}")
    with pytest.raises(ImportError, match=rf"pip install 'tracengent\[{framework}\]'"):
        importlib.import_module(f"tracengent.integrations.{framework}")
