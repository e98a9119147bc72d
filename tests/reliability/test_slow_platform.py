"""A healthy but slow platform: a backlog takes longer to deliver, and none of it is lost."""

from __future__ import annotations

import pytest

from opentelemetry.exporter.tracengent import processor as processor_module
from tests.support.chaos import EVENTS_PATH, Answer, ChaosServer, sequence
from tracengent import TracengentClient

from .conftest import chaos_options

SLOW_S = 0.3
WINDOW_S = 1.0


def test_a_backlog_behind_a_slow_platform_is_delivered_whole(
    chaos: ChaosServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each batch the worker takes has its own export bound: a backlog that takes longer than
    one bound to send (six one-event batches, 0.3 s each, against a 1 s bound) is delivered
    whole, and the flush waiting for it says so, instead of a late batch being cut short."""
    monkeypatch.setattr(processor_module, "_WORKER_EXPORT_TIMEOUT_S", WINDOW_S)
    chaos.on(EVENTS_PATH, sequence(then=Answer(200, {}, delay_s=SLOW_S)))
    with TracengentClient(chaos_options(chaos.url, max_batch_size=1)) as client:
        with client.begin_trace("slow platform") as trace:
            for index in range(6):
                trace.step(f"step-{index}")
        assert client.force_flush(timeout=10.0) is True
        assert client.dropped_count == 0
    names = [event["name"] for event in chaos.acknowledged_events()]
    assert sorted(map(str, names)) == [f"step-{index}" for index in range(6)]
