"""A signal handler that closes the client never deadlocks, whatever lock its thread held.

Python runs signal handlers on the main thread between bytecodes, so an application's SIGTERM
handler calling `client.close()` can run while that same thread is inside one of the pipeline's
critical sections: a stats update or read, the worker's wake-up in `on_end`, a `force_flush`,
`close()` itself, or the construction of another client on the global provider (the registry
lock of `tracengent._state`). Each scenario of `signal_agent.py` holds one such lock deterministically when
the signal arrives (the handler probes it from another thread), closes with no time limit, and
must return with every event delivered or counted. A regression hangs the subprocess only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from tests.support.chaos import ChaosServer
from tracengent import _state

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
    not_drops = {
        "traces_closed",
        "recording_failed",
        "misuse",
        "payloads_omitted",
        "payloads_withheld",
    }
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


def closed_while_attaching(chaos: ChaosServer, scenario: str) -> dict[str, Any]:
    """Run an `attach_*` scenario; its report, once the part both share holds: the handler ran
    while the thread held the registry lock, and its close flushed (the worker needs no
    registry lock) and delivered, without shutting the pipeline down in the handler."""
    report = run_scenario(chaos.url, scenario)
    assert report["handled"] is True
    assert report["lock_held"] is True, report
    assert report["closed"] is True
    assert report["close_s"] < 5.0, report
    assert report["stats"]["delivered"] == report["produced"]
    assert report["shut_down_in_handler"] is False
    return report


def test_a_close_in_a_signal_handler_while_the_thread_attaches_a_client_of_its_agent_returns(
    chaos: ChaosServer,
) -> None:
    """The handler interrupts the construction of a second client for the same agent on the
    global provider, holding the registry lock, after it found the agent's pipeline and before
    it counted itself a user. The close neither waits for the lock (for ever) nor releases the
    pipeline in the middle of that update (it would shut it down under the new client): its
    release waits for the lock to be let go, so the pipeline stays live, shared by the new
    client, and every event of both clients is delivered."""
    report = closed_while_attaching(chaos, "attach_same_agent")
    # The release was applied after the new client's user was counted: one user, live.
    assert report["shared"] is True
    assert report["users"] == {"chaos-agent": 1}
    assert report["first_shut_down"] is False
    assert report["other_closed"] is True
    # The first client's 4, its event after its close (its agent's pipeline is still live)
    # and the second client's 3.
    final = report["final"]
    assert final["delivered"] == report["produced"] + 1 + 3, final
    assert accounted(final) == final["delivered"], final
    names = {str(e["name"]) for e in chaos.acknowledged_events()}
    assert names == {f"sig-{i}" for i in range(report["produced"])} | {"after-close"} | {
        f"other-{i}" for i in range(3)
    }


def test_a_close_in_a_signal_handler_while_the_thread_attaches_another_agent_releases_after(
    chaos: ChaosServer,
) -> None:
    """The same interruption, building a client for another agent: the handler's close
    delivers and returns at once; its release (the pipeline's last user) is applied as the
    construction lets the lock go, and the pipeline is then shut down off that thread: its
    client's later event is counted `after_shutdown`, the new client's are delivered."""
    report = closed_while_attaching(chaos, "attach_other_agent")
    assert report["shared"] is False
    assert report["users"] == {"other-agent": 1}
    assert report["first_shut_down"] is True
    final = report["final"]
    assert final["delivered"] == report["produced"]
    assert final["after_shutdown"] == 1, final
    assert accounted(final) == report["produced"] + 1, final
    assert report["other_closed"] is True
    assert report["other_final"]["delivered"] == 3
    assert accounted(report["other_final"]) == 3


class _Pipeline(SpanProcessor):
    """A pipeline that records its shutdown."""

    def __init__(self) -> None:
        self.shut_down = threading.Event()

    def shutdown(self) -> None:
        self.shut_down.set()


@pytest.fixture
def registry() -> Iterator[tuple[TracerProvider, _Pipeline]]:
    """A provider (not the global one) with one pipeline of one user, forgotten afterwards."""
    provider = TracerProvider()
    pipeline = _Pipeline()
    _state.attach_to_provider(
        provider, agent_id="lock-agent", export_settings=None, export_processor=lambda: pipeline
    )
    try:
        yield provider, pipeline
    finally:
        _state.reset_for_tests()
        provider.shutdown()


def test_a_release_on_another_thread_still_waits_for_the_registry_lock(
    registry: tuple[TracerProvider, _Pipeline],
) -> None:
    """Only the thread holding the lock defers: any other thread's release waits for it, then
    releases at once and gets the pipeline to shut down (nothing shuts it down behind it)."""
    provider, pipeline = registry
    got: list[SpanProcessor | None] = []
    releaser = threading.Thread(
        target=lambda: got.append(_state.release_from_provider(provider, "lock-agent"))
    )
    with _state._locked:
        releaser.start()
        releaser.join(timeout=0.3)
        assert releaser.is_alive()
        attachment = _state.attachment_of(provider)
        assert attachment is not None
        assert attachment.pipelines["lock-agent"].users == 1
    releaser.join(timeout=10)
    assert got == [pipeline]
    assert "lock-agent" not in attachment.pipelines
    assert not pipeline.shut_down.is_set()


def test_a_release_on_the_thread_holding_the_registry_lock_is_applied_as_it_lets_go(
    registry: tuple[TracerProvider, _Pipeline],
) -> None:
    """What a signal handler on the holding thread does: the release returns at once, changes
    nothing while the lock is held, and is applied when it is let go; the pipeline, released
    last, is shut down on a thread of its own."""
    provider, pipeline = registry
    attachment = _state.attachment_of(provider)
    assert attachment is not None
    with _state._locked:
        assert _state.release_from_provider(provider, "lock-agent") is None
        assert attachment.pipelines["lock-agent"].users == 1
    assert "lock-agent" not in attachment.pipelines
    assert attachment.released_by_key["lock-agent"] is pipeline
    assert pipeline.shut_down.wait(10)
