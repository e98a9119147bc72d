"""An approval's answer naming another permission denies the wait (review: approvals were
checked against the permission waited for only when this authorizer had seen them pending).

`wait_for_approval("payments:payout", id)` with an id held for `payments:refund` that this client
never saw (another process's, a restarted one's) was settled by the approval of the refund.
"""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._platform_core import ApprovalStatus, parse_approval_status
from opentelemetry.exporter.tracengent.errors import MalformedResponseError

from .conftest import authorizer_for, either, governance_spans, make_options
from .fakes import FakePlatform

APPROVAL_PATH = "/v1/approvals/apr_1"


@pytest.mark.parametrize("status", ["approved", "pending"])
async def test_an_answer_for_another_permission_is_a_deny_at_once(
    mode: str, status: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """Approved or still pending, an approval of a refund never settles a payout: one poll."""
    tracer, exporter = spans
    platform = FakePlatform().on(
        APPROVAL_PATH,
        httpx.Response(200, json={"status": status, "permission": "payments:refund"}),
    )
    authorizer = authorizer_for(make_options(), tracer, httpx.MockTransport(platform.handle))
    decision = await either(
        mode,
        lambda: authorizer.wait_for_approval("payments:payout", "apr_1"),
        lambda: authorizer.wait_for_approval_async("payments:payout", "apr_1"),
    )
    assert (decision.allowed, decision.status, decision.approval_id) == (
        False,
        "denied",
        "apr_1",
    )
    assert decision.reason.startswith(
        "approval apr_1 is for 'payments:refund', not 'payments:payout'"
    )
    assert len(platform.calls(APPROVAL_PATH)) == 1
    (span,) = governance_spans(exporter, A.GovernanceKinds.APPROVAL_WAIT)
    assert span.attributes is not None
    assert span.attributes[A.AUTHZ_STATUS] == "denied"


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"status": "approved", "permission": "payments:payout"}, id="same"),
        pytest.param({"status": "approved"}, id="none-named"),
        pytest.param({"status": "approved", "permission": None}, id="null"),
    ],
)
async def test_an_answer_for_the_same_or_no_permission_allows(
    mode: str, answer: dict[str, object], spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """The permission waited for, or none named (the contract requires only `status`)."""
    platform = FakePlatform().on(APPROVAL_PATH, httpx.Response(200, json=answer))
    authorizer = authorizer_for(make_options(), spans[0], httpx.MockTransport(platform.handle))
    decision = await either(
        mode,
        lambda: authorizer.wait_for_approval("payments:payout", "apr_1"),
        lambda: authorizer.wait_for_approval_async("payments:payout", "apr_1"),
    )
    assert (decision.allowed, decision.status) == (True, "allowed")


@pytest.mark.parametrize("permission", [42, "", ["payments:payout"]], ids=repr)
async def test_an_unreadable_permission_is_a_failed_poll(
    mode: str, permission: object, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """A permission that cannot be compared is a malformed answer: never an allow."""
    platform = FakePlatform().on(
        APPROVAL_PATH, httpx.Response(200, json={"status": "approved", "permission": permission})
    )
    authorizer = authorizer_for(make_options(), spans[0], httpx.MockTransport(platform.handle))
    decision = await either(
        mode,
        lambda: authorizer.wait_for_approval("payments:payout", "apr_1", timeout_s=5),
        lambda: authorizer.wait_for_approval_async("payments:payout", "apr_1", timeout_s=5),
    )
    assert not decision.allowed
    assert "approval permission must be a non-empty string" in decision.reason


def test_the_parsed_status_is_the_status_text_with_the_permission() -> None:
    parsed = parse_approval_status(
        httpx.Response(200, json={"status": "approved", "permission": "payments:refund"})
    )
    assert isinstance(parsed, ApprovalStatus)
    assert (parsed, str(parsed), parsed.permission) == (
        "approved",
        "approved",
        "payments:refund",
    )
    assert parse_approval_status(httpx.Response(200, json={"status": "denied"})).permission is None
    with pytest.raises(MalformedResponseError):
        parse_approval_status(httpx.Response(200, json={"status": "approved", "permission": 1}))
