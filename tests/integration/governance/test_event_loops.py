"""Async governance keeps working when the agent runs one event loop after another."""

from __future__ import annotations

import asyncio
import gc

import pytest

from tracengent import TracengentClient
from tracengent.testing import RunningPlatform


# The connections the first loops opened die with those loops; they are reclaimed by the garbage
# collector, which reports them as unclosed. That report is the expected cost, not the failure.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_each_asyncio_run_gets_an_allow(tracengent_platform: RunningPlatform) -> None:
    """authorize_async from three consecutive asyncio.run calls with one client is allowed each time."""
    client = TracengentClient(tracengent_platform.options())
    try:
        statuses = [
            asyncio.run(
                client.authorize_async("payments:refund", {"amount": 10, "currency": "EUR"})
            )
            for _ in range(3)
        ]
    finally:
        client.close()
        del client
        # Collected here, where this test's warning filters apply, not in a later test.
        gc.collect()
    assert [decision.status for decision in statuses] == ["allowed"] * 3
    assert [d.permission for d in tracengent_platform.store.decisions()] == ["payments:refund"] * 3
