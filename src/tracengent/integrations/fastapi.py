"""FastAPI binding: `install_tracengent(app, client)` and the `require_agent_permission` dependency.

    app = FastAPI()
    install_tracengent(app, client)

    @app.post("/refunds", dependencies=[Depends(require_agent_permission("payments:refund"))])
    async def refund() -> dict[str, str]: ...

A denied permission answers 403 with `{"error": "forbidden", "permission", "reason"}` (the body
needs `install_tracengent`, which registers the handler; without it FastAPI's own handler wraps the
same object in `{"detail": ...}`, still a 403). On a WebSocket endpoint a deny closes the handshake
with code 1008 (policy violation), the reason naming the permission and why.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from opentelemetry.exporter.tracengent.errors import NotAuthorizedException
from tracengent.integrations import SupportsEnsureAuthorized, forbidden_body, missing_framework

try:
    from fastapi import FastAPI, HTTPException, Request, WebSocketException, status
    from fastapi.requests import HTTPConnection
    from fastapi.responses import JSONResponse
except ImportError as exc:  # exercised by a test that hides the framework
    raise missing_framework("fastapi", exc) from exc

__all__ = ["install_tracengent", "require_agent_permission"]


class _PermissionDenied(HTTPException):
    """A 403 raised by the dependency; `install_tracengent`'s handler renders its exact body."""

    def __init__(self, error: NotAuthorizedException) -> None:
        super().__init__(status_code=403, detail=forbidden_body(error))
        self.error = error


async def _render_denied(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, _PermissionDenied):
        return JSONResponse(status_code=403, content=forbidden_body(exc.error))
    raise exc  # pragma: no cover - the handler is registered for _PermissionDenied only


def install_tracengent(app: FastAPI, client: SupportsEnsureAuthorized) -> None:
    """Make `client` the app's default for `require_agent_permission` and register the 403 body.

    Does not block; call it once while building the app.
    """
    app.state.tracengent = client
    app.add_exception_handler(_PermissionDenied, _render_denied)


def require_agent_permission(
    permission: str, *, client: SupportsEnsureAuthorized | None = None
) -> Callable[[HTTPConnection], Awaitable[None]]:
    """A FastAPI dependency that lets the request through only when `permission` is allowed.

    Uses `client`, or the one given to `install_tracengent`. Awaits the authorization without
    blocking the event loop (waiting for an approval when the decision is pending).

    Raises:
        HTTPException: 403 when denied (fail closed: also when the platform is unreachable).
        WebSocketException: the same deny on a WebSocket endpoint (code 1008).
        RuntimeError: no client was given and `install_tracengent` was not called.
    """

    # `HTTPConnection`, not `Request`: FastAPI passes it to HTTP and WebSocket endpoints alike.
    async def dependency(connection: HTTPConnection) -> None:
        chosen = client if client is not None else getattr(connection.app.state, "tracengent", None)
        if chosen is None:
            raise RuntimeError(
                "no Tracengent client: call install_tracengent(app, client) or pass client="
            )
        try:
            await chosen.ensure_authorized_async(permission)
        except NotAuthorizedException as error:
            if connection.scope["type"] == "websocket":
                raise WebSocketException(
                    status.WS_1008_POLICY_VIOLATION,
                    f"forbidden: {error.permission}: {error.reason}",
                ) from error
            raise _PermissionDenied(error) from error

    return dependency
