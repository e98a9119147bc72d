"""Fixtures of the reliability suite: a chaos platform, clients against it, and the scenario table.

Set `TRACENGENT_RELIABILITY_TABLE=1` to print, at the end of the run, one row per delivery
scenario: produced, delivered, drops by reason, lost silently, exceptions, close() time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from opentelemetry.exporter.tracengent.environment_variables import TRACENGENT_RELIABILITY_TABLE
from opentelemetry.exporter.tracengent.options import TracengentOptions
from tests.support.chaos import ChaosServer, chaos_server

AGENT_ID = "chaos-agent"


@dataclass(frozen=True)
class ScenarioRow:
    """One line of the failure-mode table."""

    scenario: str
    produced: int
    delivered: int
    drops: str
    lost_silently: int
    exceptions: int
    governance: str
    close_s: float


ROWS: list[ScenarioRow] = []


def chaos_options(url: str, **overrides: object) -> TracengentOptions:
    """Client-credential options for the chaos platform, with fast test defaults."""
    options = TracengentOptions(
        agent_id=AGENT_ID,
        base_url=url,
        client_id="key_chaos",
        client_secret="ags_chaos_secret",
        flush_interval_ms=60_000,
        governance_timeout_s=2.0,
        approval_poll_interval_s=0.05,
        approval_timeout_s=1.0,
        request_timeout_s=2.0,
    )
    for name, value in overrides.items():
        assert hasattr(options, name), name
        setattr(options, name, value)
    return options


@pytest.fixture
def chaos() -> Iterator[ChaosServer]:
    """A chaos platform on a free loopback port, stopped (stalls released) after the test."""
    with chaos_server() as server:
        yield server


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the scenario table when asked to (`TRACENGENT_RELIABILITY_TABLE=1`)."""
    if not ROWS or os.environ.get(TRACENGENT_RELIABILITY_TABLE) != "1":
        return
    terminalreporter.write_line(
        "scenario | produced | delivered | drops by reason | lost silently | exceptions | "
        "governance | close() s"
    )
    for row in ROWS:
        terminalreporter.write_line(
            f"{row.scenario} | {row.produced} | {row.delivered} | {row.drops} | "
            f"{row.lost_silently} | {row.exceptions} | {row.governance} | {row.close_s:.2f}"
        )
