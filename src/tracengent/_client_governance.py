"""The governance half of `TracengentClient`: authorization, approvals, tool gates, delegation.

A base class so `_client.py` keeps to telemetry; `TracengentClient` sets up `_governance` once
(`_init_governance`) and inherits these methods. Every method fails closed and raises only the
governance exceptions users catch (`NotAuthorizedException`, `ToolDeniedException`,
`ToolPendingApprovalException`, `DelegationException`) — never a platform or httpx error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.jsonvalue import JsonInput
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.token import AgentTokenProvider
from opentelemetry.exporter.tracengent.transport import AsyncPlatformClient, PlatformClient
from opentelemetry.exporter.tracengent.wire import AuthDecision, AuthObligations
from tracengent._governance.authorization import Authorizer
from tracengent._governance.delegation import DelegatedSession, begin_delegated_task
from tracengent._governance.egress import EgressGovernor
from tracengent._governance.tools import ToolGate
from tracengent._scrubbing import Scrubber

if TYPE_CHECKING:
    from tracengent._recording import Recorder

__all__ = ["GovernanceMethods"]


@dataclass
class _Governance:
    options: TracengentOptions
    tracer: Tracer
    platform: PlatformClient
    async_platform: AsyncPlatformClient
    authorizer: Authorizer
    tools: ToolGate
    transport: httpx.BaseTransport | None
    async_transport: httpx.AsyncBaseTransport | None
    http: httpx.Client | None = None
    scrubber: Scrubber | None = None
    recorder: Recorder | None = None


def _async_twin(transport: httpx.BaseTransport | None) -> httpx.AsyncBaseTransport | None:
    # `httpx.MockTransport` serves both worlds; a sync-only transport has no async twin.
    return transport if isinstance(transport, httpx.AsyncBaseTransport) else None


class GovernanceMethods:
    """Authorization, approvals, tool gates and delegation of a `TracengentClient`."""

    _governance: _Governance

    def _init_governance(
        self,
        options: TracengentOptions,
        *,
        tracer: Tracer,
        platform: PlatformClient,
        transport: httpx.BaseTransport | None,
        async_transport: httpx.AsyncBaseTransport | None,
        token_provider: AgentTokenProvider | None,
        http: httpx.Client | None = None,
        scrubber: Scrubber | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        # `recorder`, the client's: while another agent's decision trace is current, this
        # agent's decisions name no trace and their spans are not that trace's (`governance_span`).
        async_transport = async_transport if async_transport is not None else _async_twin(transport)
        async_platform = AsyncPlatformClient(
            options, transport=async_transport, token_provider=token_provider
        )
        self._governance = _Governance(
            options=options,
            tracer=tracer,
            platform=platform,
            async_platform=async_platform,
            authorizer=Authorizer(
                options,
                platform=platform,
                async_platform=async_platform,
                tracer=tracer,
                recorder=recorder,
            ),
            tools=ToolGate(
                options,
                platform=platform,
                async_platform=async_platform,
                tracer=tracer,
                recorder=recorder,
            ),
            transport=transport,
            async_transport=async_transport,
            http=http,
            scrubber=scrubber,
            recorder=recorder,
        )

    # --- authorization ------------------------------------------------------------------------
    def authorize(
        self, permission: str, context: Mapping[str, JsonInput] | None = None
    ) -> AuthDecision:
        """Ask the platform whether `permission` is allowed; blocks up to the governance timeout.

        Sends the active decision trace's id. Never raises: a platform that is down, slow,
        refusing or answering nonsense is a deny whose `reason` says which.
        """
        return self._governance.authorizer.authorize(permission, context)

    async def authorize_async(
        self, permission: str, context: Mapping[str, JsonInput] | None = None
    ) -> AuthDecision:
        """The coroutine twin of `authorize`; never blocks the event loop."""
        return await self._governance.authorizer.authorize_async(permission, context)

    def ensure_authorized(
        self, permission: str, context: Mapping[str, JsonInput] | None = None
    ) -> AuthObligations | None:
        """Authorize, waiting for a person's approval when the decision is pending.

        Blocks up to the governance timeout, plus the approval timeout when pending.

        Returns:
            The allow's obligations (limits, fields to redact), or None.

        Raises:
            NotAuthorizedException: denied, the approval was denied/expired/timed out, or the
                decision could not be obtained (fail closed).
        """
        return self._governance.authorizer.ensure_authorized(permission, context)

    async def ensure_authorized_async(
        self, permission: str, context: Mapping[str, JsonInput] | None = None
    ) -> AuthObligations | None:
        """The coroutine twin of `ensure_authorized`; cancelling it leaves nothing behind."""
        return await self._governance.authorizer.ensure_authorized_async(permission, context)

    def wait_for_approval(
        self,
        permission: str,
        approval_id: str,
        *,
        timeout_s: float | None = None,
        poll_interval_s: float | None = None,
    ) -> AuthDecision:
        """Poll approval `approval_id` until a person decides or the approval timeout passes.

        Blocks; polls every `poll_interval_s` for up to `timeout_s` (default: the options'
        `approval_poll_interval_s` and `approval_timeout_s`); the platform is always asked once,
        so `timeout_s=0` checks the approval once without waiting. Approved → an allow,
        carrying the obligations of the pending decision this client returned for
        `approval_id`; denied, expired, still pending at the timeout, unreadable, or an
        approval of another permission than `permission` (one this client saw pending under
        another permission, or one the platform's answer says is for another) → a deny. An
        answer that names no permission (the wire contract requires only `status`) is taken
        as it is. Never raises.
        """
        return self._governance.authorizer.wait_for_approval(
            permission, approval_id, timeout_s=timeout_s, poll_interval_s=poll_interval_s
        )

    async def wait_for_approval_async(
        self,
        permission: str,
        approval_id: str,
        *,
        timeout_s: float | None = None,
        poll_interval_s: float | None = None,
    ) -> AuthDecision:
        """The coroutine twin of `wait_for_approval`; never blocks the event loop."""
        return await self._governance.authorizer.wait_for_approval_async(
            permission, approval_id, timeout_s=timeout_s, poll_interval_s=poll_interval_s
        )

    def has_permission(self, permission: str) -> bool:
        """Token-local check of `permission` against the token's `permissions` claim.

        A hint, never a security decision: no round trip once a token is cached (the first call
        may block to fetch one; use `has_permission_async` on an event loop). False with an
        ingest key.
        """
        return self._governance.authorizer.has_permission(permission)

    async def has_permission_async(self, permission: str) -> bool:
        """The coroutine twin of `has_permission`: a token not cached yet is fetched without
        blocking the event loop. Never raises."""
        return await self._governance.authorizer.has_permission_async(permission)

    # --- tools, egress, delegation ------------------------------------------------------------
    @property
    def tools(self) -> ToolGate:
        """The MCP and function-call gate (always fails closed)."""
        return self._governance.tools

    def egress_gate(self, *, govern_all: bool) -> EgressGovernor:
        """A gate for outgoing httpx requests using this client's platform connection.

        `govern_all=True` governs every request (what `governed_client` uses); otherwise only
        hosts in `options.governed_hosts`.
        """
        governance = self._governance
        return EgressGovernor(
            governance.options,
            platform=governance.platform,
            async_platform=governance.async_platform,
            tracer=governance.tracer,
            govern_all=govern_all,
            scrubber=governance.scrubber,
            recorder=governance.recorder,
        )

    def begin_delegated_task(self, token: str) -> DelegatedSession:
        """A session acting under a delegated `token` (it, never our credentials, is the bearer).

        Raises:
            DelegationException: `token` is empty, or not one bearer token (see `DelegatedSession`).
        """
        governance = self._governance
        return begin_delegated_task(
            governance.options,
            token,
            tracer=governance.tracer,
            transport=governance.transport,
            async_transport=governance.async_transport,
            http=governance.http,
            recorder=governance.recorder,
        )

    async def _aclose_governance(self) -> None:
        await self._governance.async_platform.aclose()
