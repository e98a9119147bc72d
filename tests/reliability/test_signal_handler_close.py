"""A signal handler that closes the client never deadlocks, whatever lock its thread held.

Python runs signal handlers on the main thread between bytecodes, so an application's SIGTERM
handler calling `client.close()` can run while that same thread is inside one of the pipeline's
critical sections: a stats update or read, the worker's wake-up in `on_end`, a `force_flush`, or
`close()` itself. Each scenario of `signal_agent.py` holds one such lock deterministically when
the signal arrives (the handler probes it from another thread), closes with no time limit, and
must return with every event delivered or counted. A regression hangs the subprocess only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.chaos import ChaosServer

AGENT = Path(__file__).with_name("signal_agent.py")
REPO = Path(__file__).resolve().parents[2]
BOUND_S = 30.0
"""Far above the few seconds a scenario takes; only a hang reaches it."""


def run_scenario(url: str, scenario: str) -> dict[str, Any]:
    """Run the signal agent; its JSON report (the test fails if it hung or failed)."""
    try:
        done = subprocess.run(
            [sys.executable, str(AGENT), url, scenario],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=BOUND_S,
            check=False,
        )
    except subprocess.TimeoutExpired as hung:
        pytest.fail(f"{scenario}: the close in the signal handler hung: {hung.stderr!r}")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def accounted(stats: dict[str, int]) -> int:
    """Events delivered or dropped with a reason (the keys that are no drops left out)."""
    not_drops = {"traces_closed", "recording_failed", "misuse", "payloads_omitted"}
    return sum(count for key, count in stats.items() if key not in not_drops)


@pytest.mark.parametrize("scenario", ["stats_lock", "dropped_count", "force_flush"])
def test_a_close_in_a_signal_handler_on_the_thread_holding_a_pipeline_lock_returns(
    chaos: ChaosServer, scenario: str
) -> None:
    """The handler's close(timeout=None) returns at once, counting what the worker could not
    send while the interrupted code holds the lock (`shutdown_timeout`): nothing is lost."""
    report = run_scenario(chaos.url, scenario)
    assert report["handled"] is True
    # The scenario really interrupted the critical section.
    assert report["lock_held"] is True, report
    assert report["closed"] is False
    # Not a wait for the worker: it cannot count while this thread holds the lock.
    assert report["close_s"] < 2.0, report
    produced = report["produced"]
    stats = report["stats"]
    assert stats["delivered"] == 0
    assert stats["shutdown_timeout"] == produced, stats
    assert report["dropped_count"] == produced
    # Nothing the worker did once the handler returned counted anything twice.
    assert report["final"] == stats
    if scenario == "force_flush":
        assert report["outer_flushed"] is False


def test_a_close_in_a_signal_handler_interrupting_the_wake_up_in_on_end_delivers(
    chaos: ChaosServer,
) -> None:
    """The span that fills a batch wakes the worker from `on_end`, on the agent's thread; the
    wake-up holds no lock (a `threading.Event` held its condition's there, which the handler's
    close took again: a deadlock), so the handler's close delivers everything, waiting only for
    the platform."""
    report = run_scenario(chaos.url, "wake")
    assert report["handled"] is True
    assert report["lock_held"] is None, report
    assert report["closed"] is True
    stats = report["stats"]
    assert stats["delivered"] == report["produced"]
    assert accounted(stats) == report["produced"], stats
    assert report["final"] == stats


def test_a_close_in_a_signal_handler_interrupting_close_returns_and_the_close_goes_on(
    chaos: ChaosServer,
) -> None:
    """The handler's close(timeout=None) does not wait for the close it interrupted (which
    cannot go on before the handler returns); that close then delivers everything."""
    report = run_scenario(chaos.url, "close")
    assert report["handled"] is True
    assert report["closed"] is False
    assert report["close_s"] < 2.0, report
    assert report["outer_closed"] is True
    final = report["final"]
    assert final["delivered"] == report["produced"]
    assert accounted(final) == report["produced"], final
    assert {str(e["name"]) for e in chaos.acknowledged_events()} == {
        f"sig-{i}" for i in range(report["produced"])
    }
