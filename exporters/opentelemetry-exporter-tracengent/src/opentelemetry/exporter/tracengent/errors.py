"""The one exception hierarchy of Tracengent.

    TracengentError
    ├── TracengentConfigError (also ValueError)   bad options, raised while configuring
    ├── PlatformError                             the platform could not be used
    │   ├── PlatformUnavailableError              unreachable, timed out, 5xx/429 after retries
    │   ├── PlatformRejectedError                 a non-retryable 4xx answer
    │   ├── MalformedResponseError                an answer that is not what the contract says
    │   └── AgentDisabledError                    the token endpoint answered 401
    ├── NotAuthorizedException                    `ensure_authorized` was denied
    ├── ToolDeniedException                       a governed tool call was denied
    ├── ToolPendingApprovalException              a governed tool call is held for approval
    └── DelegationException                       a delegation could not be used or attenuated

Governance calls never let a `PlatformError` out: they turn it into a deny (fail closed) and raise
one of the governance exceptions, whose names are the ones 0.1.0 users already catch.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AgentDisabledError",
    "DelegationException",
    "MalformedResponseError",
    "NotAuthorizedException",
    "PlatformError",
    "PlatformRejectedError",
    "PlatformUnavailableError",
    "ToolDeniedException",
    "ToolPendingApprovalException",
    "TracengentConfigError",
    "TracengentError",
]


class TracengentError(Exception):
    """Root of every exception Tracengent raises."""


def _rebuilt(error: BaseException, owner: type, *arguments: object) -> tuple[Any, ...]:
    """What `__reduce__` answers for an exception whose constructor (`owner`'s) takes
    `arguments` rather than its message: pickle and `copy` call the constructor with them (the
    default passes `args`, the message alone, so a process pool's worker raising one broke the
    pool) and then restore its attributes. A subclass with a constructor of its own is reduced
    the default way, as before."""
    own_constructor = type(error).__init__ is not owner.__init__  # type: ignore[misc]
    return (type(error), error.args if own_constructor else arguments, error.__dict__)


class TracengentConfigError(TracengentError, ValueError):
    """Options are missing or invalid; the message names the field and how to fix it."""


class PlatformError(TracengentError):
    """A call to the Tracengent platform did not produce a usable answer."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class PlatformUnavailableError(PlatformError):
    """Unreachable, timed out, or still answering 429/5xx after the retries."""


class PlatformRejectedError(PlatformError):
    """The platform answered a non-retryable 4xx (the request itself was refused)."""


class MalformedResponseError(PlatformError):
    """The platform answered 2xx with a body that does not follow the wire contract."""


class AgentDisabledError(PlatformError):
    """The token endpoint answered 401: the agent is disabled or its secret revoked."""


class NotAuthorizedException(TracengentError):
    """`ensure_authorized` was denied (or the decision could not be obtained: fail closed).

    Attributes:
        permission: the permission that was asked for.
        reason: why it was denied, as the platform or the SDK said.
    """

    def __init__(self, permission: str, reason: str) -> None:
        super().__init__(f"not authorized for {permission!r}: {reason}")
        self.permission = permission
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled and copied with its permission and reason (see `_rebuilt`)."""
        return _rebuilt(self, NotAuthorizedException, self.permission, self.reason)


class ToolDeniedException(TracengentError):
    """A governed tool call (HTTP egress, MCP tool, function) was denied and was not made.

    Attributes:
        reason: why, as the platform or the SDK said.
        permission: the permission the tool is bound to, when the platform named it.
        outcome: the platform's outcome (`policy_deny`, `egress_deny`, ...) or the SDK's
            fail-closed outcome (`platform_unavailable`, `malformed_decision`, ...).
    """

    def __init__(
        self, reason: str, permission: str | None = None, outcome: str | None = None
    ) -> None:
        super().__init__(f"tool call denied ({outcome or 'denied'}): {reason}")
        self.reason = reason
        self.permission = permission
        self.outcome = outcome

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled and copied with its reason, permission and outcome (see `_rebuilt`)."""
        return _rebuilt(self, ToolDeniedException, self.reason, self.permission, self.outcome)


class ToolPendingApprovalException(TracengentError):
    """A governed tool call is held for a person's approval and was not made.

    Attributes:
        approval_id: the approval to wait for (`apr_...`).
        reason: why approval is needed.
    """

    def __init__(self, approval_id: str | None, reason: str) -> None:
        super().__init__(f"tool call pending approval {approval_id}: {reason}")
        self.approval_id = approval_id
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled and copied with its approval id and reason (see `_rebuilt`)."""
        return _rebuilt(self, ToolPendingApprovalException, self.approval_id, self.reason)


class DelegationException(TracengentError):
    """A delegated token could not be used or attenuated (no `grant_id`, or a non-2xx answer)."""
