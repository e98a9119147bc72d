"""Timeouts and intervals are finite and at most a week, from code or from the environment.

An infinite or enormous timeout used to pass validation and then overflow every wait it reached
(a lock, a socket), so every governance call was denied for a confusing reason: it is refused
at construction now, naming the option or the variable.
"""

from __future__ import annotations

import math

import pytest

from opentelemetry.exporter.tracengent import environment_variables as env
from opentelemetry.exporter.tracengent.errors import TracengentConfigError
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import AsyncPlatformClient, PlatformClient
from tests.support.chaos import chaos_server
from tracengent import TracengentClient

SECONDS_OPTIONS = (
    "governance_timeout_s",
    "approval_poll_interval_s",
    "approval_timeout_s",
    "request_timeout_s",
)
WEEK_S = 7 * 86_400.0
"""The documented maximum (`options.MAX_DURATION_S`)."""
OUT_OF_RANGE = (math.inf, math.nan, 1e10, WEEK_S + 1, 10**400, -math.inf)


def _options(**overrides: object) -> TracengentOptions:
    values: dict[str, object] = {"agent_id": "billing-agent", "ingest_key": "agk_test"}
    values.update(overrides)
    return TracengentOptions(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", OUT_OF_RANGE, ids=repr)
@pytest.mark.parametrize("name", SECONDS_OPTIONS)
def test_a_timeout_that_is_not_finite_or_over_a_week_is_refused(name: str, value: float) -> None:
    """`validate()` and both clients refuse it with an error naming the option."""
    options = _options(**{name: value})
    with pytest.raises(TracengentConfigError, match=name):
        options.validate()
    with pytest.raises(TracengentConfigError, match=name):
        PlatformClient(options)
    with pytest.raises(TracengentConfigError, match=name):
        AsyncPlatformClient(options)


def test_a_flush_interval_over_a_week_is_refused() -> None:
    """`flush_interval_ms` beyond a week in milliseconds is refused, naming the option."""
    with pytest.raises(TracengentConfigError, match="flush_interval_ms"):
        _options(flush_interval_ms=10**13).validate()


@pytest.mark.parametrize("raw", ["inf", "nan", "1e10", "-inf", "604801", "0", "-1", "soon"])
def test_a_governance_timeout_variable_out_of_range_is_refused(raw: str) -> None:
    """`TRACENGENT_GOVERNANCE_TIMEOUT_S=inf` (or 1e10, nan) fails in `from_env`, naming it."""
    with pytest.raises(TracengentConfigError, match=env.TRACENGENT_GOVERNANCE_TIMEOUT_S):
        TracengentOptions.from_env(environ={env.TRACENGENT_GOVERNANCE_TIMEOUT_S: raw})


def test_the_longest_timeouts_accepted_still_make_working_calls() -> None:
    """With every timeout at the one-week maximum, a real governance call and delivery work."""
    week = WEEK_S
    with chaos_server() as server:
        options = TracengentOptions.from_env(
            environ={env.TRACENGENT_GOVERNANCE_TIMEOUT_S: repr(week)},
            agent_id="billing-agent",
            base_url=server.url,
            client_id="key_chaos",
            client_secret="ags_chaos",
            approval_poll_interval_s=week,
            approval_timeout_s=week,
            request_timeout_s=week,
        )
        assert options.validate().governance_timeout_s == week
        with TracengentClient(options) as client:
            decision = client.authorize("payments:refund")
        assert (decision.allowed, decision.reason) == (True, "ok")
