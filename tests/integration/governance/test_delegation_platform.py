"""Delegation against the real local platform, with a token granted through the CLI."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.errors import DelegationException
from tracengent.cli import main as cli
from tracengent.testing import RunningPlatform

from .conftest import delegated_session


def _grant_with_cli(platform: RunningPlatform) -> str:
    result = CliRunner().invoke(
        cli,
        [
            "grant",
            "--db",
            str(platform.store.path),
            "--from",
            "demo-agent",
            "--to",
            "hotel-agent",
            "--permissions",
            "hotels:*",
            "--max-amount",
            "300",
            "--ttl",
            "600",
        ],
    )
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_delegated_session_acts_for_the_delegating_agent(
    tracengent_platform: RunningPlatform, tracer: Tracer
) -> None:
    """A CLI-granted token authorizes within its grant, and the platform records who it acts for."""
    token = _grant_with_cli(tracengent_platform)
    session = delegated_session(tracengent_platform.options("hotel-agent"), token, tracer)
    (grant,) = tracengent_platform.store.grants()
    assert session.grant_id == grant.grant_id
    assert session.chain == ["demo-agent", "hotel-agent"]
    allowed = session.authorize("hotels:book", {"amount": 200, "currency": "EUR"})
    assert allowed.allowed, allowed.reason
    assert allowed.acting_for == session.acting_for
    over = session.authorize("hotels:book", {"amount": 400, "currency": "EUR"})
    assert not over.allowed
    outside = session.authorize("payments:refund", {"amount": 10})
    assert not outside.allowed
    assert tracengent_platform.store.decisions()[0].acting_for == session.acting_for


def test_attenuated_child_is_narrower(tracengent_platform: RunningPlatform, tracer: Tracer) -> None:
    """Attenuating for another agent yields a child grant whose token works within its subset."""
    session = delegated_session(
        tracengent_platform.options("hotel-agent"), _grant_with_cli(tracengent_platform), tracer
    )
    child = session.attenuate_for_call(
        "car-agent", ["hotels:book"], max_amount=100, expires_in_seconds=60, reason="hop"
    )
    assert child.grant_id is not None
    assert child.grant_id != session.grant_id
    assert child.delegated_permissions == ["hotels:book"]
    stored = {g.grant_id: g for g in tracengent_platform.store.grants()}
    assert stored[child.grant_id].parent_id == session.grant_id
    with child:
        assert child.authorize("hotels:book", {"amount": 50, "currency": "EUR"}).allowed
        assert not child.authorize("hotels:book", {"amount": 150, "currency": "EUR"}).allowed


async def test_wider_attenuation_is_refused(
    tracengent_platform: RunningPlatform, tracer: Tracer
) -> None:
    """Asking for more than the parent grant is refused with DelegationException, sync and async."""
    session = delegated_session(
        tracengent_platform.options("hotel-agent"), _grant_with_cli(tracengent_platform), tracer
    )
    with pytest.raises(DelegationException, match="platform answered 403"):
        session.attenuate_for_call("car-agent", ["payments:refund"])
    with pytest.raises(DelegationException, match="platform answered 403"):
        await session.attenuate_for_call_async("car-agent", ["hotels:book"], max_amount=5000)
    assert len(tracengent_platform.store.grants()) == 1
