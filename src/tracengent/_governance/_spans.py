"""Governance spans: one span per decision, carrying the `tracengent.authz.*` attributes.

Every authorization, tool authorization, approval wait and attenuation is an INTERNAL span marked
with `tracengent.governance.kind`, so it shows in any OTel backend, is always kept by the sampler,
and is never exported as a Tracengent event (the platform records decisions itself).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry.trace import Span, SpanKind, Tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.wire import AuthDecision, ToolDecision

__all__ = ["governance_span", "record_decision", "record_delegation"]


@contextmanager
def governance_span(
    tracer: Tracer,
    kind: str,
    target: str,
    *,
    permission: str | None = None,
    transport: str | None = None,
) -> Iterator[Span]:
    """Run the block inside a governance span named `"tracengent.<kind> <target>"`.

    Args:
        tracer: the tracer to start the span with.
        kind: one of `attributes.GovernanceKinds`.
        target: what is governed (a permission, a tool, a host), shown in the span name.
        permission: set as `tracengent.authz.permission` when known up front.
        transport: set as `tracengent.authz.transport` for tool decisions.

    The span records an exception that leaves the block (OTel's default) and always ends, also on
    cancellation. Does not block.
    """
    attributes: dict[str, str] = {A.GOVERNANCE_KIND: kind}
    if permission is not None:
        attributes[A.AUTHZ_PERMISSION] = permission
    if transport is not None:
        attributes[A.AUTHZ_TRANSPORT] = transport
    with tracer.start_as_current_span(
        f"tracengent.{kind} {target}", kind=SpanKind.INTERNAL, attributes=attributes
    ) as span:
        yield span


def record_decision(
    span: Span, decision: AuthDecision | ToolDecision, *, fail_open: bool = False
) -> None:
    """Put a decision's fields on its governance span (absent fields are left unset)."""
    if not span.is_recording():
        return
    span.set_attribute(A.AUTHZ_STATUS, decision.status)
    span.set_attribute(A.AUTHZ_REASON, decision.reason)
    optional: list[tuple[str, str | None]] = [
        (A.AUTHZ_DECISION_ID, decision.decision_id),
        (A.AUTHZ_APPROVAL_ID, decision.approval_id),
    ]
    if isinstance(decision, ToolDecision):
        optional.append((A.AUTHZ_OUTCOME, decision.outcome))
        optional.append((A.AUTHZ_PERMISSION, decision.permission))
    for name, value in optional:
        if value:
            span.set_attribute(name, value)
    if fail_open:
        span.set_attribute(A.AUTHZ_FAIL_OPEN, True)
    if isinstance(decision, AuthDecision):
        record_delegation(span, decision.acting_for, decision.chain)


def record_delegation(span: Span, acting_for: str | None, chain: Sequence[str]) -> None:
    """Put who a delegated session acts for, and its chain, on a span (absent ones unset)."""
    if acting_for:
        span.set_attribute(A.DELEGATION_ACTING_FOR, acting_for)
    if chain:
        span.set_attribute(A.DELEGATION_CHAIN, list(chain))
