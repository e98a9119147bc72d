"""Flask binding: `install_tracengent(app, client)` and the `require_agent_permission` decorator.

    app = Flask(__name__)
    install_tracengent(app, client)

    @app.post("/refunds")
    @require_agent_permission("payments:refund")
    def refund(): ...

A denied permission answers 403 with `{"error": "forbidden", "permission", "reason"}`. The
decorator guards `async def` views too (Flask runs them with the `flask[async]` extra).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, Protocol, TypeVar, cast, overload

from opentelemetry.exporter.tracengent.errors import NotAuthorizedException
from tracengent.integrations import SupportsEnsureAuthorized, forbidden_body, missing_framework

try:
    from flask import Flask, Response, current_app, jsonify
except ImportError as exc:  # exercised by a test that hides the framework
    raise missing_framework("flask", exc) from exc

__all__ = ["install_tracengent", "require_agent_permission"]

P = ParamSpec("P")
R = TypeVar("R")

_EXTENSION = "tracengent"

_Refusal = tuple[Response, int]
"""The 403 answer a guarded view returns instead of running."""


class _PermissionGuard(Protocol):
    """What `require_agent_permission` returns: a decorator for plain and `async def` views."""

    @overload
    def __call__(
        self, view: Callable[P, Coroutine[Any, Any, R]]
    ) -> Callable[P, Coroutine[Any, Any, R | _Refusal]]: ...

    @overload
    def __call__(self, view: Callable[P, R]) -> Callable[P, R | _Refusal]: ...


def install_tracengent(app: Flask, client: SupportsEnsureAuthorized) -> None:
    """Make `client` the app's default for `require_agent_permission`. Does not block."""
    app.extensions[_EXTENSION] = client


def _refusal(permission: str, client: SupportsEnsureAuthorized | None) -> _Refusal | None:
    """The 403 answer when `permission` is not allowed, None when it is; blocks for the decision."""
    chosen = client if client is not None else current_app.extensions.get(_EXTENSION)
    if chosen is None:
        raise RuntimeError(
            "no Tracengent client: call install_tracengent(app, client) or pass client="
        )
    try:
        chosen.ensure_authorized(permission)
    except NotAuthorizedException as error:
        return jsonify(forbidden_body(error)), 403
    return None


def require_agent_permission(
    permission: str, *, client: SupportsEnsureAuthorized | None = None
) -> _PermissionGuard:
    """A view decorator that runs the view only when `permission` is allowed.

    Uses `client`, or the one given to `install_tracengent`. Blocks the request's thread for the
    authorization (and for an approval when the decision is pending); an `async def` view stays
    a coroutine function (so Flask awaits it) and is awaited only once allowed. A denied
    permission (fail closed: also when the platform is unreachable) answers 403 with
    `{"error": "forbidden", "permission", "reason"}`.

    Raises:
        RuntimeError: no client was given and `install_tracengent` was not called.
    """

    def decorator(view: Callable[P, Any]) -> Callable[P, Any]:
        if inspect.iscoroutinefunction(view):
            # A blocking check, deliberately: Flask runs each async view on an event loop of its
            # own (asgiref), where the client's async connections would not outlive the call.
            @functools.wraps(view)
            async def guarded_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                refused = _refusal(permission, client)
                if refused is not None:
                    return refused
                return await view(*args, **kwargs)

            return guarded_async

        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> Any:
            refused = _refusal(permission, client)
            if refused is not None:
                return refused
            return view(*args, **kwargs)

        return guarded

    return cast(_PermissionGuard, decorator)
