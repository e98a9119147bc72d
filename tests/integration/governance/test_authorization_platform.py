"""Authorization, approvals and budgets against the real local platform."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest
from click.testing import CliRunner
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.errors import NotAuthorizedException
from opentelemetry.exporter.tracengent.wire import AuthObligations
from tracengent.cli import main as cli
from tracengent.testing import RunningPlatform

from .conftest import AsyncPollSignal, PollSignal, real_authorizer


def _decide_with_cli(platform: RunningPlatform, approval_id: str, verb: str) -> None:
    result = CliRunner().invoke(cli, [verb, "--db", str(platform.store.path), approval_id])
    assert result.exit_code == 0, result.output


def test_allow_within_limit(tracengent_platform: RunningPlatform, tracer: Tracer) -> None:
    """A refund within the limit is allowed and the platform stores the decision."""
    authorizer = real_authorizer(tracengent_platform.options(), tracer)
    obligations = authorizer.ensure_authorized(
        "payments:refund", {"amount": 280, "currency": "EUR"}
    )
    assert obligations is not None
    assert obligations.redact_fields == ["$.card"]
    (stored,) = tracengent_platform.store.decisions()
    assert stored.permission == "payments:refund"
    assert stored.status == "allowed"


def test_deny_over_limit(tracengent_platform: RunningPlatform, tracer: Tracer) -> None:
    """A refund over the limit raises NotAuthorizedException with the platform's reason."""
    authorizer = real_authorizer(tracengent_platform.options(), tracer)
    with pytest.raises(NotAuthorizedException) as caught:
        authorizer.ensure_authorized("payments:refund", {"amount": 1500, "currency": "EUR"})
    assert "exceeds the limit" in caught.value.reason


def test_currency_is_converted_before_limits(
    tracengent_platform: RunningPlatform, tracer: Tracer
) -> None:
    """1050 EUR is over the 1000 EUR limit but 1050 USD (966 EUR) only needs approval."""
    authorizer = real_authorizer(tracengent_platform.options(), tracer)
    assert authorizer.authorize("payments:refund", {"amount": 1050, "currency": "EUR"}).status == (
        "denied"
    )
    converted = authorizer.authorize("payments:refund", {"amount": 1050, "currency": "USD"})
    assert converted.pending
    assert converted.approval_id is not None


@pytest.mark.parametrize(("verb", "allowed"), [("approve", True), ("deny", False)])
def test_sync_wait_is_decided_through_the_cli(
    tracengent_platform: RunningPlatform, tracer: Tracer, verb: str, allowed: bool
) -> None:
    """An agent blocked on a pending refund proceeds or is refused when a person decides."""
    transport = PollSignal()
    authorizer = real_authorizer(
        tracengent_platform.options(approval_poll_interval_s=0.05, approval_timeout_s=60),
        tracer,
        transport=transport,
    )
    outcome: list[AuthObligations | BaseException | None] = []

    def agent() -> None:
        try:
            outcome.append(authorizer.ensure_authorized("payments:refund", {"amount": 700}))
        except NotAuthorizedException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=contextvars.copy_context().run, args=(agent,))
    worker.start()
    assert transport.polled.wait(30)
    (pending,) = tracengent_platform.store.approvals(status="pending")
    _decide_with_cli(tracengent_platform, pending.approval_id, verb)
    worker.join(30)
    assert not worker.is_alive()
    (result,) = outcome
    if allowed:
        assert not isinstance(result, BaseException)
    else:
        assert isinstance(result, NotAuthorizedException)
        assert result.reason == "approval denied"


@pytest.mark.parametrize("approved", [True, False])
async def test_async_wait_is_decided_through_the_store(
    tracengent_platform: RunningPlatform, tracer: Tracer, approved: bool
) -> None:
    """An async agent waiting on an approval sees the person's decision from the store."""
    transport = AsyncPollSignal()
    authorizer = real_authorizer(
        tracengent_platform.options(approval_poll_interval_s=0.05, approval_timeout_s=60),
        tracer,
        async_transport=transport,
    )
    waiting = asyncio.create_task(
        authorizer.ensure_authorized_async("payments:refund", {"amount": 700})
    )
    await asyncio.wait_for(transport.polled.wait(), 30)
    (pending,) = tracengent_platform.store.approvals(status="pending")
    tracengent_platform.store.decide_approval(pending.approval_id, approved)
    if approved:
        await waiting
    else:
        with pytest.raises(NotAuthorizedException, match="approval denied"):
            await waiting


async def test_llm_budget_is_reserved_then_refused(
    tracengent_platform: RunningPlatform, tracer: Tracer
) -> None:
    """Two 6000-token reservations exceed the 10 000-token budget: the second is denied."""
    authorizer = real_authorizer(tracengent_platform.options(), tracer)
    first = await authorizer.authorize_llm_call_async(6000, "gpt-test")
    second = authorizer.authorize_llm_call(6000, None)
    assert first.allowed
    assert not second.allowed
    assert "budget" in second.reason


async def test_platform_stopped_fails_closed(
    tracengent_platform: RunningPlatform, tracer: Tracer
) -> None:
    """With the platform stopped, sync and async authorization deny as unreachable."""
    options = tracengent_platform.options()
    tracengent_platform.platform.stop()
    authorizer = real_authorizer(options, tracer)
    sync = authorizer.authorize("payments:refund")
    async_ = await authorizer.authorize_async("payments:refund")
    for decision in (sync, async_):
        assert not decision.allowed
        assert decision.reason.startswith("platform unreachable"), decision.reason
    assert not authorizer.has_permission("payments:refund")


def test_disabled_agent_is_denied(tracengent_platform: RunningPlatform, tracer: Tracer) -> None:
    """A disabled agent's token request fails, so its authorizations deny."""
    authorizer = real_authorizer(tracengent_platform.options("disabled-agent"), tracer)
    decision = authorizer.authorize("payments:refund")
    assert not decision.allowed
    assert decision.reason.startswith("agent disabled")


def test_has_permission_reads_the_real_token(
    tracengent_platform: RunningPlatform, tracer: Tracer
) -> None:
    """The platform's signed token grants demo-agent flights:* but not admin:*."""
    authorizer = real_authorizer(tracengent_platform.options(), tracer)
    assert authorizer.has_permission("flights:book")
    assert not authorizer.has_permission("admin:delete")
    assert tracengent_platform.store.decisions() == []
