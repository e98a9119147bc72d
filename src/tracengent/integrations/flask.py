"""Flask binding: `install_tracengent(app, client)` and the `require_agent_permission` decorator.

    app = Flask(__name__)
    install_tracengent(app, client)

    @app.post("/refunds")
    @require_agent_permission("payments:refund")
    def refund(): ...

A denied permission answers 403 with `{"error": "forbidden", "permission", "reason"}`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

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


def install_tracengent(app: Flask, client: SupportsEnsureAuthorized) -> None:
    """Make `client` the app's default for `require_agent_permission`. Does not block."""
    app.extensions[_EXTENSION] = client


def require_agent_permission(
    permission: str, *, client: SupportsEnsureAuthorized | None = None
) -> Callable[[Callable[P, R]], Callable[P, R | tuple[Response, int]]]:
    """A view decorator that runs the view only when `permission` is allowed.

    Uses `client`, or the one given to `install_tracengent`. Blocks the request's thread for the
    authorization (and for an approval when the decision is pending). A denied permission
    (fail closed: also when the platform is unreachable) answers 403 with
    `{"error": "forbidden", "permission", "reason"}`.

    Raises:
        RuntimeError: no client was given and `install_tracengent` was not called.
    """

    def decorator(view: Callable[P, R]) -> Callable[P, R | tuple[Response, int]]:
        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R | tuple[Response, int]:
            chosen = client if client is not None else current_app.extensions.get(_EXTENSION)
            if chosen is None:
                raise RuntimeError(
                    "no Tracengent client: call install_tracengent(app, client) or pass client="
                )
            try:
                chosen.ensure_authorized(permission)
            except NotAuthorizedException as error:
                return jsonify(forbidden_body(error)), 403
            return view(*args, **kwargs)

        return guarded

    return decorator
