"""Framework bindings: guard web endpoints with an agent permission.

`tracengent.integrations.fastapi` and `tracengent.integrations.flask` each import their framework
when they are imported (install it with the `tracengent[fastapi]` / `tracengent[flask]` extra).
Both accept any client that satisfies `SupportsEnsureAuthorized` (a `TracengentClient`, a
`DelegatedSession`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from opentelemetry.exporter.tracengent.errors import NotAuthorizedException
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue
from opentelemetry.exporter.tracengent.wire import AuthObligations

__all__ = ["SupportsEnsureAuthorized", "forbidden_body", "missing_framework"]


@runtime_checkable
class SupportsEnsureAuthorized(Protocol):
    """A client that can authorize a permission, blocking or as a coroutine."""

    def ensure_authorized(
        self, permission: str, context: Mapping[str, JsonValue] | None = None
    ) -> AuthObligations | None:
        """Raises `NotAuthorizedException` unless allowed."""
        ...

    async def ensure_authorized_async(
        self, permission: str, context: Mapping[str, JsonValue] | None = None
    ) -> AuthObligations | None:
        """Raises `NotAuthorizedException` unless allowed."""
        ...


def forbidden_body(error: NotAuthorizedException) -> JsonObject:
    """The 403 body both bindings answer: `{"error": "forbidden", "permission", "reason"}`."""
    return {"error": "forbidden", "permission": error.permission, "reason": error.reason}


def missing_framework(framework: str, error: ImportError) -> ImportError:
    """The ImportError raised when a binding's framework is not installed, naming the extra."""
    message = (
        f"tracengent.integrations.{framework} needs {framework}: "
        f"pip install 'tracengent[{framework}]'"
    )
    return ImportError(message, name=error.name)
