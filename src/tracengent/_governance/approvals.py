"""Waiting for a person's approval (wire contract §5): polling, bounded in time and in failures.

`wait_for_approval` / `wait_for_approval_async` poll `GET /v1/approvals/{id}` every
`poll_interval_s` for up to `timeout_s`; the platform is always asked at least once, so a
`timeout_s` of 0 asks once and settles on that answer (still pending: a timeout). Approved allows; denied, expired, a timeout, or a poll
that keeps failing (`MAX_CONSECUTIVE_POLL_FAILURES` in a row; a poll the platform throttles with
a 429, or holds back for its `Retry-After`, is no failure: the wait goes on) deny, and so, without polling, do
an id that names no approval and bounds that cannot bound the wait (`bounds_problem`). The wait is an
`approval_wait` governance span that always ends, cancellation included.

An approval settles only the permission it was asked for: an answer naming another permission
than the one waited for ends the wait with a deny at once, whatever its status. An answer naming
none (the wire contract requires only `status`) is taken as it is, as before: refusing it would
deny every approval a contract-minimal platform grants, and the id it answers for is one the
platform issued to this agent (`Authorizer` also denies, unpolled, an id it saw pending under
another permission). A wait for a held tool call names no permission and checks none: its
approval is matched to the call by the platform when the call is made again.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final, Protocol, TypedDict, runtime_checkable

from opentelemetry.trace import Span, Tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.errors import (
    MalformedResponseError,
    PlatformUnavailableError,
)
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.wire import AuthDecision, usable_approval_id
from tracengent._governance._decisions import (
    APPROVAL_STATUSES,
    approval_decision,
    approval_deny,
    bounded,
    deny_for_error,
)
from tracengent._governance._spans import governance_span, record_decision, record_delegation

if TYPE_CHECKING:
    from tracengent._recording import Recorder

__all__ = [
    "INVALID_WAIT",
    "MAX_CONSECUTIVE_POLL_FAILURES",
    "ApprovalStatusSource",
    "AsyncApprovalStatusSource",
    "bounds_problem",
    "wait_for_approval",
    "wait_for_approval_async",
]

MAX_CONSECUTIVE_POLL_FAILURES: Final = 3
"""A poll failing this many times in a row ends the wait with a deny (fail closed, bounded)."""


@runtime_checkable
class ApprovalStatusSource(Protocol):
    """All a wait needs of the platform client (`GovernancePlatform` and `PlatformClient` have it)."""

    def approval_status(self, approval_id: str, *, deadline: float | None = None) -> str:
        """`GET /v1/approvals/{id}`'s status; raises only `PlatformError`."""
        ...


@runtime_checkable
class AsyncApprovalStatusSource(Protocol):
    """The coroutine twin of `ApprovalStatusSource`."""

    async def approval_status(self, approval_id: str, *, deadline: float | None = None) -> str:
        """`GET /v1/approvals/{id}`'s status; raises only `PlatformError`."""
        ...


INVALID_WAIT: Final = "invalid approval wait"
"""How the reason of a deny for a wait's unusable own bounds begins (`bounds_problem`)."""


def _seconds(value: object) -> float | None:
    """`value` as seconds when it is a finite real number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    seconds = float(value)
    return seconds if math.isfinite(seconds) else None


def bounds_problem(timeout_s: object, poll_interval_s: object) -> str | None:
    """Why a wait cannot be bounded by `timeout_s` / `poll_interval_s`, or None.

    A caller's own values are not checked as the options' are: a NaN or infinite timeout would
    never end the wait, and a poll interval of 0 or less would poll the platform in a busy loop
    (or, blocking, make `time.sleep` raise).
    """
    timeout = _seconds(timeout_s)
    if timeout is None or timeout < 0:
        return f"timeout_s must be a finite number of seconds >= 0, got {timeout_s!r}"
    interval = _seconds(poll_interval_s)
    if interval is None or interval <= 0:
        return f"poll_interval_s must be a finite number of seconds > 0, got {poll_interval_s!r}"
    return None


class _ApprovalWait:
    """The I/O-free state of one wait: the deadline, failures in a row, what each answer means."""

    def __init__(
        self,
        approval_id: str,
        pending: AuthDecision | None,
        *,
        permission: str | None,
        timeout_s: float,
        poll_interval_s: float,
        request_timeout_s: float,
    ) -> None:
        self.approval_id = approval_id
        self.pending = pending
        self.permission = permission
        self.timeout_s = timeout_s
        self.poll_interval_s = poll_interval_s
        self.request_timeout_s = request_timeout_s
        self.end = time.monotonic() + timeout_s
        self.failures = 0
        self.last_error: BaseException | None = None
        """The failure of the latest poll (a throttled one included: it read nothing), unless
        the platform answered since (for the reason of a timeout); a poll the wait's own end cut
        short is no failure of the platform's."""
        self.asked = False
        self.cut_by_end = False

    def request_deadline(self) -> float:
        """One poll is bounded by the governance timeout and, but for the first, by the end of
        the whole wait: the first is always sent with its full governance timeout, so a wait
        with no time left (`timeout_s=0`) still asks the platform once instead of nothing."""
        request_end = time.monotonic() + self.request_timeout_s
        if not self.asked:
            self.asked = True
            self.cut_by_end = False
            return request_end
        self.cut_by_end = self.end < request_end
        return min(request_end, self.end)

    def on_status(self, status: object) -> AuthDecision | None:
        if not isinstance(status, str) or status not in APPROVAL_STATUSES:
            return self.on_error(MalformedResponseError(f"unknown approval status {status!r}"))
        self.failures = 0
        self.last_error = None
        # `ApprovalStatus` (the transport's) carries the permission the answer names.
        answered = getattr(status, "permission", None)
        asked = self.permission
        if asked is not None and isinstance(answered, str) and answered != asked:
            return self._deny(
                f"approval {self.approval_id} is for {answered!r}, not {asked!r}:"
                " a person's approval settles only the permission it was asked for"
            )
        return approval_decision(status, self.approval_id, self.pending)

    def on_error(self, error: BaseException) -> AuthDecision | None:
        if not (self.cut_by_end and time.monotonic() >= self.end):
            # Named by a timeout's reason (a throttled poll too: it did not read the approval).
            self.last_error = error
        if _throttled(error):
            # Up, and asking for a pause: polls it holds back are not sent, and the wait goes on
            # (bounded by `timeout_s`) instead of ending as though the approval were unreadable.
            return None
        self.failures += 1
        if self.failures < MAX_CONSECUTIVE_POLL_FAILURES:
            return None
        why = deny_for_error(error, deadline=self.request_deadline()).reason
        return self._deny(f"approval status unavailable ({self.failures} polls failed): {why}")

    def pause_s(self) -> float | None:
        """How long to wait before the next poll; None when the wait is over."""
        remaining = self.end - time.monotonic()
        if remaining <= 0:
            return None
        return min(self.poll_interval_s, remaining)

    def timed_out(self) -> AuthDecision:
        reason = f"approval timed out after {self.timeout_s:g} s"
        if self.last_error is not None:
            # The last poll failed: say so, or a platform that never answered looks pending.
            why = deny_for_error(self.last_error).reason
            reason = f"{reason} (the last poll failed: {why})"
        return self._deny(reason)

    def _deny(self, reason: str) -> AuthDecision:
        return approval_deny(self.approval_id, self.pending, reason)


def _throttled(error: BaseException) -> bool:
    """Whether a poll failed because the platform answered 429 (or holds calls back for one)."""
    return isinstance(error, PlatformUnavailableError) and error.status_code == 429


def _refused_unpolled(
    approval_id: str, pending: AuthDecision | None, timeout_s: object, poll_interval_s: object
) -> AuthDecision | None:
    """The deny of a wait that must not poll at all: the id names no approval (see
    `usable_approval_id`), or the wait's bounds cannot bound it (`bounds_problem`)."""
    if usable_approval_id(approval_id) is None:
        return approval_deny(
            approval_id, pending, f"approval id {approval_id!r} names no approval; not polled"
        )
    problem = bounds_problem(timeout_s, poll_interval_s)
    if problem is not None:
        return approval_deny(approval_id, pending, f"{INVALID_WAIT}: {problem}; not polled")
    return None


class WaitBounds(TypedDict):
    """How long an approval wait lasts, how often it polls, and each poll's timeout."""

    timeout_s: float
    poll_interval_s: float
    request_timeout_s: float


def wait_bounds(
    options: TracengentOptions, timeout_s: float | None, poll_interval_s: float | None
) -> WaitBounds:
    """A wait's bounds: the call's own values, else the options' (`approval_timeout_s`,
    `approval_poll_interval_s`; each poll within `governance_timeout_s`)."""
    return {
        "timeout_s": options.approval_timeout_s if timeout_s is None else timeout_s,
        "poll_interval_s": (
            options.approval_poll_interval_s if poll_interval_s is None else poll_interval_s
        ),
        "request_timeout_s": options.governance_timeout_s,
    }


@contextmanager
def _approval_span(
    tracer: Tracer,
    permission: str | None,
    approval_id: str,
    acting_for: str | None,
    chain: Sequence[str],
    recorder: Recorder | None,
) -> Iterator[Span]:
    """The `approval_wait` governance span of one wait (sync and async share it)."""
    with governance_span(
        tracer,
        A.GovernanceKinds.APPROVAL_WAIT,
        permission or "held tool call",  # a tool call's approval may not name its permission
        permission=permission,
        recorder=recorder,
    ) as span:
        span.set_attribute(A.AUTHZ_APPROVAL_ID, approval_id)
        record_delegation(span, acting_for, chain)
        yield span


def wait_for_approval(
    platform: ApprovalStatusSource,
    tracer: Tracer,
    permission: str | None,
    approval_id: str,
    *,
    pending: AuthDecision | None = None,
    timeout_s: float,
    poll_interval_s: float,
    request_timeout_s: float,
    acting_for: str | None = None,
    chain: Sequence[str] = (),
    recorder: Recorder | None = None,
) -> AuthDecision:
    """Block until the approval is decided, the wait times out, or polling keeps failing.

    Never raises (every failure is a deny); blocks the calling thread for up to `timeout_s` (or
    one poll's governance timeout, if longer: the platform is always asked once).
    `permission`: what the approval must be for; an answer naming another is a deny (one naming
    none is taken as it is: see the module doc); None (a held tool call's) checks nothing.
    `recorder`: the waiting client's (its span is not another agent's trace's: `governance_span`).
    """
    with _approval_span(tracer, permission, approval_id, acting_for, chain, recorder) as span:
        refused = _refused_unpolled(approval_id, pending, timeout_s, poll_interval_s)
        if refused is not None:
            record_decision(span, refused)
            return refused
        wait = _ApprovalWait(
            approval_id,
            pending,
            permission=permission,
            timeout_s=timeout_s,
            poll_interval_s=poll_interval_s,
            request_timeout_s=request_timeout_s,
        )
        while True:
            try:
                status = platform.approval_status(approval_id, deadline=wait.request_deadline())
            except Exception as exc:  # noqa: BLE001 - fail closed on anything the poll raises
                decision = wait.on_error(exc)
            else:
                decision = wait.on_status(status)
            if decision is None:
                pause = wait.pause_s()
                if pause is None:
                    decision = wait.timed_out()
                else:
                    time.sleep(pause)
                    continue
            record_decision(span, decision)
            return decision


async def wait_for_approval_async(
    platform: AsyncApprovalStatusSource,
    tracer: Tracer,
    permission: str | None,
    approval_id: str,
    *,
    pending: AuthDecision | None = None,
    timeout_s: float,
    poll_interval_s: float,
    request_timeout_s: float,
    acting_for: str | None = None,
    chain: Sequence[str] = (),
    recorder: Recorder | None = None,
) -> AuthDecision:
    """The coroutine twin of `wait_for_approval`; never blocks the event loop.

    Cancelling it cancels the in-flight poll and ends the span; nothing is left running.
    """
    with _approval_span(tracer, permission, approval_id, acting_for, chain, recorder) as span:
        refused = _refused_unpolled(approval_id, pending, timeout_s, poll_interval_s)
        if refused is not None:
            record_decision(span, refused)
            return refused
        wait = _ApprovalWait(
            approval_id,
            pending,
            permission=permission,
            timeout_s=timeout_s,
            poll_interval_s=poll_interval_s,
            request_timeout_s=request_timeout_s,
        )
        while True:
            deadline = wait.request_deadline()
            try:
                status = await bounded(
                    platform.approval_status(approval_id, deadline=deadline),
                    deadline - time.monotonic(),
                )
            except Exception as exc:  # noqa: BLE001 - fail closed on anything the poll raises
                decision = wait.on_error(exc)
            else:
                decision = wait.on_status(status)
            if decision is None:
                pause = wait.pause_s()
                if pause is None:
                    decision = wait.timed_out()
                else:
                    await asyncio.sleep(pause)
                    continue
            record_decision(span, decision)
            return decision
