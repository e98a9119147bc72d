"""`AgentTrace.complete(status)` reads a status written in another case ("Failed", as an enum
name spells it) as that status, never as an unknown one whose close says "completed"."""

from __future__ import annotations

import pytest

from opentelemetry.exporter.tracengent import attributes as A
from tests.unit.traces.conftest import AGENT_ID, Harness


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("Failed", "failed"),
        ("FAILURE", "failed"),
        (" completed ", "completed"),
        ("Success", "completed"),
    ],
)
def test_status_in_another_case_is_that_status(harness: Harness, given: str, sent: str) -> None:
    """The close carries the status meant, and nothing is counted as misuse."""
    trace = harness.begin()
    trace.complete(given)
    root = harness.span(f"invoke_agent {AGENT_ID}")
    assert (root.attributes or {})[A.TRACE_STATUS] == sent
    assert harness.recorder.misuse_guard.failures == 0
