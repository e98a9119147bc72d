"""`AgentTrace.complete(status)` with an enum member (an application's own status enum) reads
its text value, so `Status.FAILED` ends the trace failed rather than as an unknown status whose
close says "completed"."""

from __future__ import annotations

import enum

import pytest

from opentelemetry.exporter.tracengent import attributes as A
from tests.unit.traces.conftest import AGENT_ID, Harness


class RunStatus(enum.Enum):
    """An application's status enum, not a `str` mixin."""

    DONE = "completed"
    BROKEN = "failed"
    LEGACY_OK = "success"
    NUMBERED = 3


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        (RunStatus.BROKEN, "failed"),
        (RunStatus.DONE, "completed"),
        (RunStatus.LEGACY_OK, "completed"),
    ],
)
def test_an_enum_member_is_read_by_its_text_value(
    harness: Harness, given: RunStatus, sent: str
) -> None:
    """The close carries the member's status, and nothing is counted as misuse."""
    trace = harness.begin()
    trace.complete(given)  # type: ignore[arg-type]
    root = harness.span(f"invoke_agent {AGENT_ID}")
    assert (root.attributes or {})[A.TRACE_STATUS] == sent
    assert harness.recorder.misuse_guard.failures == 0


def test_an_enum_member_without_a_status_value_is_still_unknown(harness: Harness) -> None:
    """A member whose value is no status text is an unknown status, counted as misuse."""
    trace = harness.begin()
    trace.complete(RunStatus.NUMBERED)  # type: ignore[arg-type]
    root = harness.span(f"invoke_agent {AGENT_ID}")
    assert A.TRACE_STATUS not in (root.attributes or {})
    assert harness.recorder.misuse_guard.failures == 1
