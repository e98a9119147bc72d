"""Authorization (wire contract §4): `authorize`, `ensure_authorized`, approvals, `has_permission`.

Governance fails closed: an unreachable or slow platform, a non-2xx answer, a malformed decision
or a disabled agent is a deny whose reason says which, and only an unambiguous allow allows. No
platform, HTTP or JSON exception ever leaves these methods: they return a deny or raise
`NotAuthorizedException`. Every decision is an `authorize` governance span.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

from opentelemetry.trace import Span, Tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.claims import TokenClaims
from opentelemetry.exporter.tracengent.errors import NotAuthorizedException
from opentelemetry.exporter.tracengent.jsonvalue import JsonInput
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.permissions import permission_matches
from opentelemetry.exporter.tracengent.wire import AuthDecision, AuthObligations
from tracengent._governance import approvals
from tracengent._governance._decisions import (
    AsyncGovernancePlatform,
    GovernancePlatform,
    add_redact_fields,
    bounded,
    build_authorize_request,
    current_trace_id,
    deny_for_error,
    llm_call_context,
)
from tracengent._governance._spans import governance_span, record_decision, record_delegation

if TYPE_CHECKING:
    from tracengent._recording import Recorder

__all__ = ["LLM_CALL_PERMISSION", "Authorizer"]

LLM_CALL_PERMISSION = "llm:call"
"""The permission a governed LLM call reserves its token budget under (§4)."""

_REMEMBERED_PENDING: Final = 256
"""Pending decisions kept by approval id, so `wait_for_approval` can carry their obligations
over to the approval (the approval endpoint answers a status only); the oldest is forgotten."""


class Authorizer:
    """Authorizes permissions against the platform, sync and async, failing closed.

    Args:
        options: supplies `governance_timeout_s` (the deadline of one decision, token fetch
            included), `approval_poll_interval_s` and `approval_timeout_s`.
        platform: the synchronous platform client (`transport.PlatformClient`).
        async_platform: its asynchronous twin (`transport.AsyncPlatformClient`).
        tracer: starts the governance spans.
        acting_for: on a delegated session, who it acts for (put on every span).
        chain: on a delegated session, its delegation chain (put on every span).
        recorder: the client's: while another agent's decision trace is current, a decision
            names no trace and its span is not that trace's (see `governance_span`).
    """

    def __init__(
        self,
        options: TracengentOptions,
        *,
        platform: GovernancePlatform,
        async_platform: AsyncGovernancePlatform,
        tracer: Tracer,
        acting_for: str | None = None,
        chain: Sequence[str] = (),
        recorder: Recorder | None = None,
    ) -> None:
        self._options = options
        self._platform = platform
        self._async_platform = async_platform
        self._tracer = tracer
        self._recorder = recorder
        self._acting_for = acting_for
        self._chain = tuple(chain)
        # approval id -> (the permission asked, the pending decision), the newest last.
        self._pending: OrderedDict[str, tuple[str, AuthDecision]] = OrderedDict()
        self._pending_lock = threading.Lock()

    # --- authorize ------------------------------------------------------------------------

    def authorize(
        self, permission: str, context: Mapping[str, JsonInput] | None = None
    ) -> AuthDecision:
        """Ask the platform whether `permission` is allowed now (`POST /v1/authorize`).

        Blocks for at most `governance_timeout_s`. Never raises: any failure is a deny whose
        reason says why. A pending decision is returned as is (see `ensure_authorized`).
        """
        with governance_span(
            self._tracer,
            A.GovernanceKinds.AUTHORIZE,
            permission,
            permission=permission,
            recorder=self._recorder,
        ) as span:
            record_delegation(span, self._acting_for, self._chain)
            deadline = time.monotonic() + self._options.governance_timeout_s
            try:
                request = build_authorize_request(
                    permission, context, current_trace_id(self._recorder)
                )
                decision = self._platform.authorize(request, deadline=deadline)
            except Exception as exc:  # noqa: BLE001 - fail closed: nothing but a deny leaves
                decision = deny_for_error(exc, deadline=deadline)
            return self._settle(span, permission, decision)

    async def authorize_async(
        self, permission: str, context: Mapping[str, JsonInput] | None = None
    ) -> AuthDecision:
        """The coroutine twin of `authorize`; never blocks the event loop. Never raises."""
        with governance_span(
            self._tracer,
            A.GovernanceKinds.AUTHORIZE,
            permission,
            permission=permission,
            recorder=self._recorder,
        ) as span:
            record_delegation(span, self._acting_for, self._chain)
            timeout_s = self._options.governance_timeout_s
            deadline = time.monotonic() + timeout_s
            try:
                request = build_authorize_request(
                    permission, context, current_trace_id(self._recorder)
                )
                decision = await bounded(
                    self._async_platform.authorize(request, deadline=deadline), timeout_s
                )
            except Exception as exc:  # noqa: BLE001 - fail closed: nothing but a deny leaves
                decision = deny_for_error(exc, deadline=deadline)
            return self._settle(span, permission, decision)

    def authorize_llm_call(self, estimated_tokens: int, model: str | None = None) -> AuthDecision:
        """Reserve LLM token budget: authorize `llm:call` with `estimatedTokens` and `model`.

        Blocks like `authorize`; never raises.
        """
        return self.authorize(LLM_CALL_PERMISSION, llm_call_context(estimated_tokens, model))

    async def authorize_llm_call_async(
        self, estimated_tokens: int, model: str | None = None
    ) -> AuthDecision:
        """The coroutine twin of `authorize_llm_call`; never raises."""
        return await self.authorize_async(
            LLM_CALL_PERMISSION, llm_call_context(estimated_tokens, model)
        )

    # --- ensure_authorized ----------------------------------------------------------------

    def ensure_authorized(
        self, permission: str, context: Mapping[str, JsonInput] | None = None
    ) -> AuthObligations | None:
        """Authorize `permission`, waiting for a person's approval when it is pending.

        Blocks for the decision and, when pending, for up to `approval_timeout_s`.

        Returns:
            The allow's obligations (None when it has none).

        Raises:
            NotAuthorizedException: denied, the approval was denied/expired/timed out, or the
                decision could not be obtained (fail closed).
        """
        decision = self.authorize(permission, context)
        if decision.pending:
            decision = self._wait_pending(permission, decision)
        return self._obligations_or_raise(permission, decision)

    async def ensure_authorized_async(
        self, permission: str, context: Mapping[str, JsonInput] | None = None
    ) -> AuthObligations | None:
        """The coroutine twin of `ensure_authorized`; never blocks the event loop.

        Raises:
            NotAuthorizedException: as `ensure_authorized`.
        """
        decision = await self.authorize_async(permission, context)
        if decision.pending:
            if decision.approval_id is None:
                decision = AuthDecision.deny("pending approval without an approval id")
            else:
                decision = await self._wait_async(permission, decision.approval_id, decision)
        return self._obligations_or_raise(permission, decision)

    # --- approvals --------------------------------------------------------------------------

    def wait_for_approval(
        self,
        permission: str,
        approval_id: str,
        *,
        timeout_s: float | None = None,
        poll_interval_s: float | None = None,
    ) -> AuthDecision:
        """Poll an approval until approved (allow), denied/expired (deny) or `timeout_s` (deny).

        An approval of a pending decision this authorizer returned carries that decision's
        obligations (limits, `redactFields`), as `ensure_authorized` does. Blocks the calling
        thread; `timeout_s` and `poll_interval_s` default to the options' `approval_timeout_s`
        and `approval_poll_interval_s`. The platform is asked at least once: `timeout_s=0` asks
        once and denies (timed out) when the approval is still pending. A `timeout_s` that is
        not a finite number >= 0 or a `poll_interval_s` not one > 0 is a deny, nothing polled.
        Never raises.
        """
        known = self._pending_decision(approval_id)
        if known is not None and known[0] != permission:
            return _other_permission(known[0], permission, approval_id)
        pending = known[1] if known is not None else None
        return self._wait(permission, approval_id, pending, timeout_s, poll_interval_s)

    async def wait_for_approval_async(
        self,
        permission: str,
        approval_id: str,
        *,
        timeout_s: float | None = None,
        poll_interval_s: float | None = None,
    ) -> AuthDecision:
        """The coroutine twin of `wait_for_approval`; cancellation leaves nothing behind."""
        known = self._pending_decision(approval_id)
        if known is not None and known[0] != permission:
            return _other_permission(known[0], permission, approval_id)
        pending = known[1] if known is not None else None
        return await self._wait_async(permission, approval_id, pending, timeout_s, poll_interval_s)

    # --- token-local ------------------------------------------------------------------------

    def has_permission(self, permission: str) -> bool:
        """True when the agent's token grants `permission` (wire contract §9), without a call.

        Reads the cached token's claims; when none is cached a token is fetched first (blocking
        for at most `governance_timeout_s`; `has_permission_async` awaits it instead). False with
        an ingest key, a disabled agent, or a token that cannot be obtained. Never raises. A
        hint, not a decision: context limits (amounts, budgets) are only enforced by `authorize`.
        """
        try:
            provider = self._platform.token_provider
            if provider is None or provider.disabled:
                return False
            claims = provider.cached_claims
            if claims is None:
                provider.get_token(deadline=time.monotonic() + self._options.governance_timeout_s)
                claims = provider.cached_claims
            return _grants(claims, permission)
        except Exception:  # noqa: BLE001 - no token means no permission, never an exception
            return False

    async def has_permission_async(self, permission: str) -> bool:
        """The coroutine twin of `has_permission`: a token not cached yet is fetched without
        blocking the event loop, within `governance_timeout_s`. Never raises."""
        try:
            provider = self._platform.token_provider
            if provider is None or provider.disabled:
                return False
            claims = provider.cached_claims
            if claims is None:
                timeout_s = self._options.governance_timeout_s
                deadline = time.monotonic() + timeout_s
                await bounded(provider.get_token_async(deadline=deadline), timeout_s)
                claims = provider.cached_claims
            return _grants(claims, permission)
        except Exception:  # noqa: BLE001 - no token means no permission, never an exception
            return False

    # --- internals --------------------------------------------------------------------------

    def _settle(self, span: Span, permission: str, decision: AuthDecision) -> AuthDecision:
        record_decision(span, decision)
        if decision.pending and decision.approval_id is not None:
            with self._pending_lock:
                self._pending[decision.approval_id] = (permission, decision)
                self._pending.move_to_end(decision.approval_id)
                if len(self._pending) > _REMEMBERED_PENDING:
                    self._pending.popitem(last=False)
        return self._apply_obligations(decision)

    def _pending_decision(self, approval_id: object) -> tuple[str, AuthDecision] | None:
        """`(permission, pending decision)` that named `approval_id`; None when this authorizer
        made none."""
        if not isinstance(approval_id, str):
            # Not hashable, maybe: the wait denies it unpolled instead (`usable_approval_id`).
            return None
        with self._pending_lock:
            return self._pending.get(approval_id)

    def _wait_pending(self, permission: str, pending: AuthDecision) -> AuthDecision:
        if pending.approval_id is None:
            return AuthDecision.deny("pending approval without an approval id")
        return self._wait(permission, pending.approval_id, pending)

    def _wait(
        self,
        permission: str,
        approval_id: str,
        pending: AuthDecision | None,
        timeout_s: float | None = None,
        poll_interval_s: float | None = None,
    ) -> AuthDecision:
        decision = approvals.wait_for_approval(
            self._platform,
            self._tracer,
            permission,
            approval_id,
            pending=pending,
            acting_for=self._acting_for,
            chain=self._chain,
            recorder=self._recorder,
            **approvals.wait_bounds(self._options, timeout_s, poll_interval_s),
        )
        return self._apply_obligations(decision)

    async def _wait_async(
        self,
        permission: str,
        approval_id: str,
        pending: AuthDecision | None,
        timeout_s: float | None = None,
        poll_interval_s: float | None = None,
    ) -> AuthDecision:
        decision = await approvals.wait_for_approval_async(
            self._async_platform,
            self._tracer,
            permission,
            approval_id,
            pending=pending,
            acting_for=self._acting_for,
            chain=self._chain,
            recorder=self._recorder,
            **approvals.wait_bounds(self._options, timeout_s, poll_interval_s),
        )
        return self._apply_obligations(decision)

    def _apply_obligations(self, decision: AuthDecision) -> AuthDecision:
        if decision.allowed and decision.obligations is not None:
            add_redact_fields(decision.obligations.redact_fields, self._recorder)
        return decision

    @staticmethod
    def _obligations_or_raise(permission: str, decision: AuthDecision) -> AuthObligations | None:
        if not decision.allowed:
            raise NotAuthorizedException(permission, decision.reason or decision.status)
        return decision.obligations


def _grants(claims: TokenClaims | None, permission: str) -> bool:
    """Whether the token `claims` grant `permission`; False without claims."""
    if claims is None:
        return False
    return any(permission_matches(granted, permission) for granted in claims.permissions)


def _other_permission(asked: str, permission: str, approval_id: str) -> AuthDecision:
    """The deny of a wait for `permission` on an approval asked for another permission."""
    return AuthDecision.deny(
        f"approval {approval_id} was asked for {asked!r}, not {permission!r}: a person's approval "
        "settles only the permission it was asked for"
    )
