"""I/O-free pieces of authorization shared by the sync and async shells.

Request building, the fail-closed translation of every failure into a deny with a reason, and the
mapping of an approval's status onto a decision live here once; only the thin shells that wait on
the network differ between `Authorizer.authorize` and `Authorizer.authorize_async`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Final, Protocol

import httpx

from opentelemetry.exporter.tracengent._async_client import bounded
from opentelemetry.exporter.tracengent.claims import TokenClaims
from opentelemetry.exporter.tracengent.errors import (
    AgentDisabledError,
    MalformedResponseError,
    PlatformError,
    PlatformRejectedError,
    PlatformUnavailableError,
)
from opentelemetry.exporter.tracengent.jsonvalue import (
    JsonInput,
    JsonObject,
    JsonValue,
    dumps_compact,
)
from opentelemetry.exporter.tracengent.wire import AuthDecision
from tracengent._scrubbing import stamped_trace_id
from tracengent._state import CURRENT_TRACE

if TYPE_CHECKING:
    from tracengent._recording import Recorder

__all__ = [
    "APPROVAL_STATUSES",
    "AsyncGovernancePlatform",
    "GovernancePlatform",
    "TokenSource",
    "approval_decision",
    "approval_deny",
    "bounded",
    "build_authorize_request",
    "current_trace_id",
    "deny_for_error",
    "llm_call_context",
]

APPROVAL_STATUSES: Final = frozenset({"pending", "approved", "denied", "expired"})
"""The statuses `GET /v1/approvals/{id}` answers (wire contract §5)."""


class TokenSource(Protocol):
    """What authorization needs of the agent's token provider (token-local checks)."""

    @property
    def disabled(self) -> bool:
        """True once the token endpoint said the agent is disabled."""
        ...

    @property
    def cached_claims(self) -> TokenClaims | None:
        """The claims of the cached token; None when no token is cached."""
        ...

    def get_token(self, *, deadline: float | None = None) -> str:
        """A valid access token (fetched when none is cached); raises `PlatformError`."""
        ...

    async def get_token_async(self, *, deadline: float | None = None) -> str:
        """The coroutine twin of `get_token`."""
        ...


class GovernancePlatform(Protocol):
    """The synchronous platform calls governance makes (`transport.PlatformClient`)."""

    @property
    def token_provider(self) -> TokenSource | None:
        """The agent's token provider; None with an ingest key or a fixed bearer token."""
        ...

    def authorize(self, request: JsonObject, *, deadline: float | None = None) -> AuthDecision:
        """`POST /v1/authorize`; raises only `PlatformError`."""
        ...

    def approval_status(self, approval_id: str, *, deadline: float | None = None) -> str:
        """`GET /v1/approvals/{id}`'s status; raises only `PlatformError`."""
        ...

    def attenuate(
        self, grant_id: str, request: JsonObject, *, deadline: float | None = None
    ) -> JsonObject:
        """`POST /v1/delegations/{id}/attenuate`'s `token` object; raises only `PlatformError`."""
        ...

    def close(self) -> None:
        """Release the client's connections."""
        ...


class AsyncGovernancePlatform(Protocol):
    """The asynchronous twin of `GovernancePlatform` (`transport.AsyncPlatformClient`)."""

    async def authorize(
        self, request: JsonObject, *, deadline: float | None = None
    ) -> AuthDecision:
        """`POST /v1/authorize`; raises only `PlatformError`."""
        ...

    async def approval_status(self, approval_id: str, *, deadline: float | None = None) -> str:
        """`GET /v1/approvals/{id}`'s status; raises only `PlatformError`."""
        ...

    async def attenuate(
        self, grant_id: str, request: JsonObject, *, deadline: float | None = None
    ) -> JsonObject:
        """`POST /v1/delegations/{id}/attenuate`'s `token` object; raises only `PlatformError`."""
        ...

    async def aclose(self) -> None:
        """Release the client's connections."""
        ...


def current_trace_id(recorder: Recorder | None = None) -> str | None:
    """The Tracengent id of the active decision trace (sent as `traceId`); None outside one.

    The trace `begin_trace` made current, else the one an `invoke_agent` span opened (zero
    code, manual OTel, an agent framework): the context processor stamps its id on every span
    inside it, the current span included. `recorder`, the deciding client's: while another
    agent's trace is current (`Recorder.foreign`; for an `invoke_agent` trace, one whose root
    names another agent: `Recorder.foreign_span`), that agent has none current, so None.
    """
    trace = CURRENT_TRACE.get()
    if trace is not None:
        trace_id = trace.trace_id
    else:
        stamped = stamped_trace_id()
        if stamped is None:
            return None  # outside any decision trace: nothing to ask about
        trace_id = stamped
    if recorder is not None and recorder.in_foreign_trace():
        return None  # not ours: the platform would file our decision under its trace
    return trace_id


def add_redact_fields(fields: Sequence[str], recorder: Recorder | None = None) -> None:
    """Make an allow's `redactFields` obligations apply to the rest of the current trace.

    The trace `begin_trace` made current takes them itself. A trace an `invoke_agent` span
    opened (zero code, manual OTel, an agent framework) has no such object: the paths are noted
    on `recorder`'s scrubber under the trace's id (`current_trace_id`), which the exporter masks
    in that trace's payloads, as it does for a `begin_trace` trace's. Without a recorder, or
    outside this agent's traces, there is no trace to apply them to.
    """
    if not fields:
        return
    try:
        from tracengent._trace import current_trace
    except ImportError:
        return
    trace = current_trace()
    if trace is not None:
        trace.add_redact_fields(list(fields))
        return
    if recorder is None:
        return
    trace_id = current_trace_id(recorder)
    if trace_id is None:
        return
    recorder.scrubber.add_trace_paths(trace_id, fields)


def build_authorize_request(
    permission: str, context: Mapping[str, JsonInput] | None, trace_id: str | None
) -> JsonObject:
    """`{"permission", "context"?, "traceId"?}` (wire contract §4).

    Raises:
        ValueError: `permission` is empty or `context` cannot be encoded as JSON (the shells turn
            this into a deny, so nothing unencodable reaches the transport).
    """
    if not isinstance(permission, str) or not permission:
        raise ValueError(f"permission must be a non-empty string, got {permission!r}")
    request: JsonObject = {"permission": permission}
    if context is not None:
        copied = _with_decimal_numbers(dict(context))
        if not isinstance(copied, dict):  # a dict stays a dict; for the type checker
            raise TypeError("context must be a mapping")
        try:
            dumps_compact(copied)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"context cannot be encoded as JSON: {exc}") from exc
        request["context"] = copied
    if trace_id is not None:
        request["traceId"] = trace_id
    return request


def _with_decimal_numbers(value: object) -> JsonValue:
    """`value` with each finite `Decimal` inside (mappings, sequences) as the JSON number it is:
    an `int` when integral, else a `float`, as `Money` sends an amount; mappings as dicts and
    sequences (but text and bytes) as lists (`JsonInput`). Anything else, and a Decimal NaN or
    infinity (the encoding then refuses it), is left as it is."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            return value  # type: ignore[return-value]  # refused by the encoding
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {key: _with_decimal_numbers(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
        return [_with_decimal_numbers(item) for item in value]
    return value  # type: ignore[return-value]  # checked by the encoding


def llm_call_context(estimated_tokens: int, model: str | None) -> JsonObject:
    """`{"estimatedTokens": N, "model": <model or null>}`: the key is kept even when null (§4)."""
    return {"estimatedTokens": estimated_tokens, "model": model}


# The transport reports a timeout as a PlatformUnavailableError whose message names httpx's
# timeout class (`ReadTimeout: ...`) or the exceeded deadline, without an exception chain.
_TIMEOUT_MARKERS: Final = ("Timeout", "timed out", "deadline exceeded")


def _timed_out(error: BaseException, deadline: float | None) -> bool:
    if deadline is not None and time.monotonic() >= deadline:
        return True
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, (httpx.TimeoutException, TimeoutError, asyncio.TimeoutError)):
            return True
        cause = cause.__cause__
    message = str(error)
    return any(marker in message for marker in _TIMEOUT_MARKERS)


def deny_for_error(error: BaseException, *, deadline: float | None = None) -> AuthDecision:
    """The fail-closed deny for a governance call that raised `error`; its reason says which.

    Reasons: `agent disabled`, `malformed decision: ...`, `platform answered <status>: ...`,
    `platform timed out`, `platform unreachable: ...` (and, for SDK-side problems,
    `invalid authorization request: ...` / `authorization failed: ...`).
    """
    if isinstance(error, AgentDisabledError):
        detail = str(error)
        return AuthDecision.deny(
            detail if detail.startswith("agent disabled") else f"agent disabled: {detail}"
        )
    if isinstance(error, MalformedResponseError):
        return AuthDecision.deny(f"malformed decision: {error}")
    if isinstance(error, PlatformRejectedError):
        return AuthDecision.deny(f"platform answered {error.status_code}: {error}")
    if isinstance(error, PlatformUnavailableError):
        if error.status_code is not None:
            return AuthDecision.deny(f"platform answered {error.status_code}: {error}")
        if _timed_out(error, deadline):
            return AuthDecision.deny("platform timed out")
        return AuthDecision.deny(f"platform unreachable: {error}")
    if isinstance(error, (TimeoutError, asyncio.TimeoutError, httpx.TimeoutException)):
        return AuthDecision.deny("platform timed out")
    if isinstance(error, PlatformError):
        return AuthDecision.deny(f"platform error: {error}")
    if isinstance(error, ValueError):
        return AuthDecision.deny(f"invalid authorization request: {error}")
    return AuthDecision.deny(f"authorization failed: {type(error).__name__}: {error}")


def approval_decision(
    status: str, approval_id: str, pending: AuthDecision | None
) -> AuthDecision | None:
    """The decision an approval status settles on; None while it is still pending.

    Approved carries over the pending decision's obligations and ids; denied and expired deny.
    """
    if status == "pending":
        return None
    if status == "approved":
        return AuthDecision(
            allowed=True,
            reason="approved",
            obligations=pending.obligations if pending else None,
            decision_id=pending.decision_id if pending else None,
            status="allowed",
            approval_id=approval_id,
            acting_for=pending.acting_for if pending else None,
            chain=list(pending.chain) if pending else [],
        )
    reason = "approval expired" if status == "expired" else "approval denied"
    return approval_deny(approval_id, pending, reason)


def approval_deny(approval_id: str, pending: AuthDecision | None, reason: str) -> AuthDecision:
    """A deny ending the wait for `approval_id`, keeping the pending decision's ids."""
    return AuthDecision(
        allowed=False,
        reason=reason,
        decision_id=pending.decision_id if pending else None,
        status="denied",
        approval_id=approval_id,
        acting_for=pending.acting_for if pending else None,
        chain=list(pending.chain) if pending else [],
    )
