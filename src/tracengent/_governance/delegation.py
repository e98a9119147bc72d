"""Delegation (wire contract §7): acting under a delegated token, and attenuating it for a hop.

A `DelegatedSession` authorizes with the delegated token as the bearer — never the agent's own
credentials — so the platform decides on the delegated authority and answers with `actingFor` and
`chain`. `attenuate_for_call` hands a narrower token to another agent; the platform enforces the
subset invariant, and any refusal or failure is a `DelegationException`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import TYPE_CHECKING

import httpx
from opentelemetry.trace import Span, Tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.claims import read_claims
from opentelemetry.exporter.tracengent.errors import DelegationException, MalformedResponseError
from opentelemetry.exporter.tracengent.jsonvalue import (
    JsonInput,
    JsonObject,
    JsonValue,
    finite_float,
)
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.permissions import permission_matches
from opentelemetry.exporter.tracengent.wire import AuthDecision, AuthObligations
from tracengent._governance._decisions import (
    AsyncGovernancePlatform,
    GovernancePlatform,
    bounded,
    deny_for_error,
)
from tracengent._governance._spans import governance_span, record_delegation
from tracengent._governance.authorization import Authorizer

if TYPE_CHECKING:
    from tracengent._recording import Recorder

__all__ = ["DelegatedSession", "PlatformFactory", "begin_delegated_task"]

PlatformFactory = Callable[[str], tuple[GovernancePlatform, AsyncGovernancePlatform]]
"""Builds the sync and async platform clients that authenticate with a given bearer token."""


def _bearer(token: object) -> str:
    """`token` without surrounding whitespace, checked to be usable as a bearer credential.

    Raises:
        DelegationException: empty, or holding a character a header value cannot carry as one
            token (whitespace, a control character, non-ASCII). The message never quotes the
            token: an HTTP library refusing it would, into a deny reason and its span.
    """
    if not isinstance(token, str) or not token.strip():
        raise DelegationException("a delegated session needs a non-empty token")
    bare = token.strip()
    if not all("!" <= character <= "~" for character in bare):
        raise DelegationException(
            "the delegated token holds whitespace, control or non-ASCII characters: pass the "
            "token alone (not 'Bearer <token>', not several tokens)"
        )
    return bare


class DelegatedSession:
    """An agent acting under a delegated token (received out of band).

    Build one with `TracengentClient.begin_delegated_task(token)`. The claims are read from the
    token without verifying it (hints for spans; the platform decides). Whitespace around the
    token (a newline read with it from a file) is not part of it.

    Attributes:
        token: the delegated access token, the bearer of every call this session makes.
        grant_id: the delegation grant (`dlg_...`); None on a token that is not delegated.
        acting_for: who the session acts for.
        chain: the agents the authority passed through.
        delegated_permissions: the permissions delegated.

    `recorder`, the client's whose `begin_delegated_task` made the session: its decisions are
    that agent's, as its own client's are (an allow's `redactFields` apply to the current decision
    trace, one an `invoke_agent` span opened included; inside another agent's trace a decision
    names no trace and its span is not that trace's). None: a bare session, outside any client.
    """

    def __init__(
        self,
        token: str,
        *,
        options: TracengentOptions,
        tracer: Tracer,
        platforms: PlatformFactory,
        recorder: Recorder | None = None,
    ) -> None:
        token = _bearer(token)
        claims = read_claims(token)
        self.token = token
        self.grant_id = claims.grant_id
        self.acting_for = claims.acting_for
        self.chain = list(claims.delegation_chain)
        self.delegated_permissions = list(claims.delegated_permissions)
        self._expires_at = claims.expires_at
        self._options = options
        self._tracer = tracer
        self._platforms = platforms
        self._recorder = recorder
        self._platform, self._async_platform = platforms(token)
        self._authorizer = Authorizer(
            options,
            platform=self._platform,
            async_platform=self._async_platform,
            tracer=tracer,
            recorder=recorder,
            acting_for=self.acting_for,
            chain=self.chain,
        )

    @property
    def is_delegated(self) -> bool:
        """True when the token carries a delegation grant."""
        return self.grant_id is not None

    def close(self) -> None:
        """Release the blocking client's connections (`aclose` releases both). Idempotent.

        The session decides nothing afterwards, sync or async: its calls deny (an attenuation
        raises) without asking the platform or opening a connection.
        """
        self._platform.close()
        # The `*_async` calls end with the sync ones (as `TracengentClient.close` ends them).
        mark_closed = getattr(self._async_platform, "mark_closed", None)
        if callable(mark_closed):
            mark_closed()

    async def aclose(self) -> None:
        """Release both platform clients' connections. Idempotent."""
        self._platform.close()
        await self._async_platform.aclose()

    def __enter__(self) -> DelegatedSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> DelegatedSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        # Never the token itself: reprs end up in logs.
        return (
            f"DelegatedSession(grant_id={self.grant_id!r}, acting_for={self.acting_for!r}, "
            f"chain={self.chain!r})"
        )

    def authorize(
        self, permission: str, context: Mapping[str, JsonInput] | None = None
    ) -> AuthDecision:
        """Authorize `permission` under the delegated authority (bearer: the delegated token).

        Blocks for at most `governance_timeout_s`; never raises (fails closed with a deny).
        """
        return self._authorizer.authorize(permission, context)

    async def authorize_async(
        self, permission: str, context: Mapping[str, JsonInput] | None = None
    ) -> AuthDecision:
        """The coroutine twin of `authorize`; never blocks the event loop, never raises."""
        return await self._authorizer.authorize_async(permission, context)

    def ensure_authorized(
        self, permission: str, context: Mapping[str, JsonInput] | None = None
    ) -> AuthObligations | None:
        """Like `TracengentClient.ensure_authorized`, under the delegated authority.

        Raises:
            NotAuthorizedException: denied, or the decision could not be obtained.
        """
        return self._authorizer.ensure_authorized(permission, context)

    async def ensure_authorized_async(
        self, permission: str, context: Mapping[str, JsonInput] | None = None
    ) -> AuthObligations | None:
        """The coroutine twin of `ensure_authorized`.

        Raises:
            NotAuthorizedException: denied, or the decision could not be obtained.
        """
        return await self._authorizer.ensure_authorized_async(permission, context)

    def wait_for_approval(
        self,
        permission: str,
        approval_id: str,
        *,
        timeout_s: float | None = None,
        poll_interval_s: float | None = None,
    ) -> AuthDecision:
        """Poll an approval of this session's until a person decides (bearer: the delegated token).

        Like `TracengentClient.wait_for_approval` (`timeout_s=0` checks it once): approved → an
        allow carrying the obligations of the pending decision this session returned for
        `approval_id` (the agent's own client knows nothing of it, and would poll with the
        agent's credentials); denied, expired, timed out (`timeout_s`, default
        `approval_timeout_s`), unreadable or of another permission → a deny. Blocks; never
        raises.
        """
        return self._authorizer.wait_for_approval(
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
        """The coroutine twin of `wait_for_approval`; cancelling it leaves nothing behind."""
        return await self._authorizer.wait_for_approval_async(
            permission, approval_id, timeout_s=timeout_s, poll_interval_s=poll_interval_s
        )

    def attenuate_for_call(
        self,
        callee_agent_id: str,
        permissions: Sequence[str],
        *,
        max_amount: float | Decimal | None = None,
        expires_in_seconds: int | None = None,
        reason: str | None = None,
    ) -> DelegatedSession:
        """Hand narrower authority to `callee_agent_id` for an agent-to-agent hop.

        Blocks for at most `governance_timeout_s`. Pass the returned session's `token` to the
        callee.

        Raises:
            DelegationException: the token carries no `grant_id`, or the platform refused
                (subset invariant), failed, timed out or answered malformed (a child token
                that is not a new grant's for `callee_agent_id` included).
        """
        grant_id, request = self._attenuation(
            callee_agent_id, permissions, max_amount, expires_in_seconds, reason
        )
        with self._span(callee_agent_id) as span:
            deadline = time.monotonic() + self._options.governance_timeout_s
            try:
                answer = self._platform.attenuate(grant_id, request, deadline=deadline)
            except Exception as exc:  # noqa: BLE001 - every failure is a DelegationException
                raise self._failure(span, exc, deadline) from _cause(exc)
            return self._child(span, answer, callee_agent_id, request)

    async def attenuate_for_call_async(
        self,
        callee_agent_id: str,
        permissions: Sequence[str],
        *,
        max_amount: float | Decimal | None = None,
        expires_in_seconds: int | None = None,
        reason: str | None = None,
    ) -> DelegatedSession:
        """The coroutine twin of `attenuate_for_call`; never blocks the event loop.

        Raises:
            DelegationException: as `attenuate_for_call`.
        """
        grant_id, request = self._attenuation(
            callee_agent_id, permissions, max_amount, expires_in_seconds, reason
        )
        with self._span(callee_agent_id) as span:
            timeout_s = self._options.governance_timeout_s
            deadline = time.monotonic() + timeout_s
            try:
                answer = await bounded(
                    self._async_platform.attenuate(grant_id, request, deadline=deadline),
                    timeout_s,
                )
            except Exception as exc:  # noqa: BLE001 - every failure is a DelegationException
                raise self._failure(span, exc, deadline) from _cause(exc)
            # Off the event loop: the child's platform clients load the TLS trust store (tens of
            # milliseconds of blocking work for a default `httpx` transport).
            return await asyncio.to_thread(self._child, span, answer, callee_agent_id, request)

    def _attenuation(
        self,
        callee_agent_id: str,
        permissions: Sequence[str],
        max_amount: float | Decimal | None,
        expires_in_seconds: int | None,
        reason: str | None,
    ) -> tuple[str, JsonObject]:
        if self.grant_id is None:
            raise DelegationException(
                "cannot attenuate: the session's token carries no grant_id (not a delegated token)"
            )
        request = _attenuation_request(
            callee_agent_id, permissions, max_amount, expires_in_seconds, reason
        )
        if isinstance(request, str):
            raise DelegationException(f"cannot attenuate grant {self.grant_id}: {request}")
        return self.grant_id, request

    def _span(self, callee_agent_id: str) -> AbstractContextManager[Span]:
        return governance_span(
            self._tracer, A.GovernanceKinds.ATTENUATE, callee_agent_id, recorder=self._recorder
        )

    def _failure(self, span: Span, error: Exception, deadline: float) -> DelegationException:
        if isinstance(error, MalformedResponseError):
            # Its message may quote the answer, which holds the child's token: never shown.
            why = (
                f"malformed attenuation answer (HTTP {error.status_code}): not a token object; "
                "its body is not shown: it may hold the delegated token"
            )
        else:
            why = deny_for_error(error, deadline=deadline).reason
        span.set_attribute(A.AUTHZ_STATUS, "denied")
        span.set_attribute(A.AUTHZ_REASON, why)
        record_delegation(span, self.acting_for, self.chain)
        return DelegationException(f"attenuation of grant {self.grant_id} failed: {why}")

    def _child(
        self, span: Span, answer: object, callee_agent_id: str, request: JsonObject
    ) -> DelegatedSession:
        record_delegation(span, self.acting_for, self.chain)
        token = answer.get("accessToken") if isinstance(answer, Mapping) else None
        try:
            if not isinstance(token, str) or not token:
                raise DelegationException(f"no accessToken in {type(answer).__name__}")
            self._check_child(_bearer(token), callee_agent_id, request)
            child = DelegatedSession(
                token,
                options=self._options,
                tracer=self._tracer,
                platforms=self._platforms,
                recorder=self._recorder,
            )
        except DelegationException as unusable:
            why = f"malformed attenuation answer: {unusable}"
            span.set_attribute(A.AUTHZ_STATUS, "denied")
            span.set_attribute(A.AUTHZ_REASON, why)
            raise DelegationException(why) from None
        span.set_attribute(A.AUTHZ_STATUS, "allowed")
        return child

    def _check_child(self, token: str, callee_agent_id: str, request: JsonObject) -> None:
        """Refuse a child token that cannot be the narrower grant asked for: the caller hands
        it to the callee as that, so this session's own token echoed back (all of its
        authority), a token with no grant or of the grant being narrowed, or one whose subject
        is another agent (the callee would act as that agent) fails the hop instead; so does
        one whose claims say it is wider than `request` asked (a delegated permission no asked
        pattern covers, acting for another agent than this session, expiring after it). A
        claim the token leaves out is not held against it. The claims are read unverified:
        this only ever refuses, the platform decides what a token allows.

        Raises:
            DelegationException: why, never quoting the token.
        """
        claims = read_claims(token)
        if token == self.token:
            raise DelegationException("the token is this session's own, not a narrower one")
        if claims.grant_id is None:
            raise DelegationException("the token carries no grant_id (not a delegated token)")
        if claims.grant_id == self.grant_id:
            raise DelegationException(f"the token is of grant {self.grant_id}, not a new grant")
        if claims.subject is not None and claims.subject != callee_agent_id:
            raise DelegationException(f"the token's subject is not {callee_agent_id!r}")
        sent = request.get("permissions")
        asked = [p for p in sent if isinstance(p, str)] if isinstance(sent, list) else []
        for permission in claims.delegated_permissions:
            if not any(permission_matches(pattern, permission) for pattern in asked):
                raise DelegationException(
                    f"the token delegates {permission!r}, which no permission asked for covers"
                )
        if (
            claims.acting_for is not None
            and self.acting_for is not None
            and claims.acting_for != self.acting_for
        ):
            raise DelegationException(
                f"the token acts for {claims.acting_for!r}, not {self.acting_for!r}"
            )
        if (
            claims.expires_at is not None
            and self._expires_at is not None
            and claims.expires_at > self._expires_at
        ):
            raise DelegationException("the token expires after this session's own token")


def _cause(error: Exception) -> Exception | None:
    """What a `DelegationException` for `error` is raised from: `error`, unless it is a malformed
    attenuation answer, whose message may quote the child's token (None: no chained traceback
    shows it, in a log or a span's `exception.stacktrace`)."""
    return None if isinstance(error, MalformedResponseError) else error


def _attenuation_request(
    callee_agent_id: object,
    permissions: object,
    max_amount: object,
    expires_in_seconds: object,
    reason: object,
) -> JsonObject | str:
    """The `/v1/delegations/{id}/attenuate` body (wire contract §7), or why there can be none.

    Checked before anything is sent, so a request the platform could misread as wider than
    meant (no permissions, a cap that is not a number) never leaves: a non-empty callee, one
    permission string or a non-empty sequence of them, a finite `max_amount` >= 0 (an int, a
    float or a `Decimal`, sent as the number it is), a positive integer `expires_in_seconds`, a
    string `reason`.
    """
    if not isinstance(callee_agent_id, str) or not callee_agent_id.strip():
        return f"the callee agent id must be a non-empty string, got {callee_agent_id!r}"
    if isinstance(permissions, str):
        wanted: list[object] = [permissions]
    elif isinstance(permissions, Iterable) and not isinstance(permissions, Mapping):
        wanted = list(permissions)
    else:
        return f"permissions must be a sequence of permission strings, got {permissions!r}"
    names: list[JsonValue] = [p for p in wanted if isinstance(p, str) and p.strip()]
    if not wanted or len(names) != len(wanted):
        return f"permissions must be one or more non-empty strings, got {wanted!r}"
    request: JsonObject = {"grantedToAgentId": callee_agent_id, "permissions": names}
    if max_amount is not None:
        amount = max_amount
        if isinstance(amount, Decimal) and amount.is_finite():
            # Money kept as a Decimal is sent as the number it is, as in an authorize context.
            amount = int(amount) if amount == amount.to_integral_value() else float(amount)
        cap = finite_float(amount)
        if cap is None or cap < 0:
            return f"max_amount must be a finite number >= 0, got {max_amount!r}"
        # An int stays one on the wire (`500`, not `500.0`).
        request["maxAmount"] = amount if isinstance(amount, int) else cap
    if expires_in_seconds is not None:
        if (
            isinstance(expires_in_seconds, bool)
            or not isinstance(expires_in_seconds, int)
            or expires_in_seconds <= 0
        ):
            return f"expires_in_seconds must be a positive integer, got {expires_in_seconds!r}"
        request["expiresInSeconds"] = expires_in_seconds
    if reason is not None:
        if not isinstance(reason, str):
            return f"reason must be a string, got {reason!r}"
        request["reason"] = reason
    return request


def begin_delegated_task(
    options: TracengentOptions,
    token: str,
    *,
    tracer: Tracer,
    transport: httpx.BaseTransport | None = None,
    async_transport: httpx.AsyncBaseTransport | None = None,
    http: httpx.Client | None = None,
    recorder: Recorder | None = None,
) -> DelegatedSession:
    """A session that acts under `token`; its platform clients authenticate with that token only.

    `transport` / `async_transport` are passed to the platform clients (tests pass
    `httpx.MockTransport`); `http`, the client's own `httpx.Client` (its TLS, proxy and hooks),
    carries the sync calls when given; `recorder`, the client's (see `DelegatedSession`). Does
    not block (no call is made until the session is used).

    Raises:
        DelegationException: `token` is empty, or not one bearer token (see `DelegatedSession`).
    """
    from opentelemetry.exporter.tracengent.transport import (
        AsyncPlatformClient,
        PlatformClient,
        fork_safe,
    )

    def platforms(bearer: str) -> tuple[GovernancePlatform, AsyncGovernancePlatform]:
        # Reset in a forked child: the session's clients are no `TracengentClient`'s.
        return (
            fork_safe(PlatformClient(options, transport=transport, http=http, bearer_token=bearer)),
            fork_safe(AsyncPlatformClient(options, transport=async_transport, bearer_token=bearer)),
        )

    return DelegatedSession(
        token, options=options, tracer=tracer, platforms=platforms, recorder=recorder
    )
