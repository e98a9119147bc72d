"""Governance spans: one span per decision, carrying the `tracengent.authz.*` attributes.

Every authorization, tool authorization, approval wait and attenuation is an INTERNAL span marked
with `tracengent.governance.kind`, so it shows in any OTel backend, is always kept by the sampler,
and is never exported as a Tracengent event (the platform records decisions itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import Token
from types import TracebackType

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import (
    INVALID_SPAN,
    Span,
    SpanKind,
    Status,
    StatusCode,
    Tracer,
    set_span_in_context,
)
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.wire import AuthDecision, ToolDecision
from tracengent._processors.context import STARTING
from tracengent._recording import Recorder, TelemetryGuard
from tracengent._scrubbing import Scrubber

__all__ = ["GovernanceSpan", "governance_span", "record_decision", "record_delegation"]

_GUARD = TelemetryGuard()
"""Counts and logs (rate-limited) governance spans a span processor would not let start or end."""
_SCRUBBER = Scrubber()
"""What tells an exception on a span started without a client's recorder: the default rules."""


class GovernanceSpan:
    """A governance span made current for a `with` block (what `governance_span` returns).

    It does what `tracer.start_as_current_span` does (an exception leaving the block is recorded
    and sets an ERROR status; the span always ends, also on cancellation), as one object instead
    of three nested generator context managers: every governed egress request opens one.

    Telemetry never changes a decision: when the tracer's span processors raise as the span
    starts, the block runs with a non-recording span (nothing made current), and when they raise
    as it ends, the block's own outcome stands; either is logged and counted, never raised.

    `recorder`: the deciding client's. While another agent's decision trace is current, the
    decision is not that trace's (`Recorder.foreign`; an `invoke_agent` trace whose root names
    another agent: `Recorder.foreign_span`): the span is still the current span's
    child, but nothing stamps it into that trace, so it goes through this agent's export.
    """

    __slots__ = ("_attributes", "_name", "_recorder", "_span", "_token", "_tracer")

    def __init__(
        self,
        tracer: Tracer,
        name: str,
        attributes: dict[str, AttributeValue],
        recorder: Recorder | None = None,
    ) -> None:
        self._tracer = tracer
        self._name = name
        self._attributes = attributes
        self._recorder = recorder
        self._span: Span | None = None
        self._token: Token[Context] | None = None

    def __enter__(self) -> Span:
        """Start the span and make it current."""
        # Its attributes are ours (kind, permission, transport): the scrubbing processor applies
        # only configured name globs to them.
        recorder = self._recorder
        if recorder is not None and recorder.in_foreign_trace():
            starting = STARTING.set(recorder.starting_outside(self._attributes))
        else:
            starting = STARTING.set(True)
        try:
            span = self._tracer.start_span(
                self._name, kind=SpanKind.INTERNAL, attributes=self._attributes
            )
        except Exception as exc:  # noqa: BLE001 - the decision goes on, untraced
            _GUARD.failed("starting a governance span", exc)
            return INVALID_SPAN
        finally:
            STARTING.reset(starting)
        try:
            self._token = otel_context.attach(set_span_in_context(span))
        except BaseException:
            span.end()
            raise
        self._span = span
        return span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Make the previous context current again, record an escaping exception, end the span."""
        span = self._span
        if span is None:
            return
        self._span = None
        try:
            if self._token is not None:
                otel_context.detach(self._token)
            # Like OTel's `use_span`: only `Exception`s are errors (not cancellation or exit).
            if isinstance(exc, Exception) and span.is_recording():
                # Told without the credentials it names (a URL's key, a password).
                scrubber = self._recorder.scrubber if self._recorder is not None else _SCRUBBER
                told = scrubber.exception_attributes(exc)
                span.record_exception(exc, attributes=told)
                message = told["exception.message"]
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {message}"))
        finally:
            try:
                span.end()
            except Exception as exc:  # noqa: BLE001 - the block's outcome stands
                _GUARD.failed("ending a governance span", exc)


def governance_span(
    tracer: Tracer,
    kind: str,
    target: str,
    *,
    permission: str | None = None,
    transport: str | None = None,
    recorder: Recorder | None = None,
) -> GovernanceSpan:
    """Run the block inside a governance span named `"tracengent.<kind> <target>"`.

    Args:
        tracer: the tracer to start the span with.
        kind: one of `attributes.GovernanceKinds`.
        target: what is governed (a permission, a tool, a host), shown in the span name.
        permission: set as `tracengent.authz.permission` when known up front.
        transport: set as `tracengent.authz.transport` for tool decisions.
        recorder: the deciding client's; None (zero code's gate, a bare gate): the span is in
            the decision trace its OTel parent is in.

    The span records an exception that leaves the block (OTel's default) and always ends, also on
    cancellation. Does not block.
    """
    attributes: dict[str, AttributeValue] = {A.GOVERNANCE_KIND: kind}
    if permission is not None:
        attributes[A.AUTHZ_PERMISSION] = permission
    if transport is not None:
        attributes[A.AUTHZ_TRANSPORT] = transport
    return GovernanceSpan(tracer, f"tracengent.{kind} {target}", attributes, recorder)


def record_decision(
    span: Span, decision: AuthDecision | ToolDecision, *, fail_open: bool = False
) -> None:
    """Put a decision's fields on its governance span (absent fields are left unset)."""
    if not span.is_recording():
        return
    # One `set_attributes` call: the SDK takes its span lock once, not once per field.
    attributes: dict[str, AttributeValue] = {
        A.AUTHZ_STATUS: decision.status,
        A.AUTHZ_REASON: decision.reason,
    }
    if decision.decision_id:
        attributes[A.AUTHZ_DECISION_ID] = decision.decision_id
    if decision.approval_id:
        attributes[A.AUTHZ_APPROVAL_ID] = decision.approval_id
    if isinstance(decision, ToolDecision):
        if decision.outcome:
            attributes[A.AUTHZ_OUTCOME] = decision.outcome
        if decision.permission:
            attributes[A.AUTHZ_PERMISSION] = decision.permission
    if fail_open:
        attributes[A.AUTHZ_FAIL_OPEN] = True
    if isinstance(decision, AuthDecision):
        _delegation_attributes(attributes, decision.acting_for, decision.chain)
    span.set_attributes(attributes)


def record_delegation(span: Span, acting_for: str | None, chain: Sequence[str]) -> None:
    """Put who a delegated session acts for, and its chain, on a span (absent ones unset)."""
    attributes: dict[str, AttributeValue] = {}
    _delegation_attributes(attributes, acting_for, chain)
    if attributes:
        span.set_attributes(attributes)


def _delegation_attributes(
    attributes: dict[str, AttributeValue], acting_for: str | None, chain: Sequence[str]
) -> None:
    if acting_for:
        attributes[A.DELEGATION_ACTING_FOR] = acting_for
    if chain:
        attributes[A.DELEGATION_CHAIN] = list(chain)
