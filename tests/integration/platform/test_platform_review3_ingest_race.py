"""Ingest idempotency under concurrent duplicate posts, on real threads over loopback."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tracengent.testing import RunningPlatform

_HEADERS = {"X-Ingest-Key": "agk_demo"}


def test_duplicate_batches_racing_store_each_event_once(
    tracengent_platform: RunningPlatform,
) -> None:
    """Ten threads post the same 40-event batch (half keyed by eventId, half by idempotencyKey)
    and the same close at once: every event and the close are stored once, the rest counted
    as duplicates, and every answer adds up."""
    batch = [
        {
            ("eventId" if i % 2 else "idempotencyKey"): f"key_{i}",
            "traceId": "trc_race",
            "type": "llm_call",
            "name": "n",
            "status": "success",
            "usage": {"tokens": 1},
        }
        for i in range(40)
    ]
    close = {"traceId": "trc_race", "op": "Close", "status": "completed"}

    def post(_: int) -> tuple[dict[str, int], dict[str, int]]:
        with httpx.Client(base_url=tracengent_platform.url, headers=_HEADERS, timeout=30) as c:
            events = c.post("/v1/ingest/events", json=batch)
            closed = c.post("/v1/ingest/traces", json=close)
        assert events.status_code == closed.status_code == 200
        return events.json(), closed.json()

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(post, range(10)))
    assert sum(events["stored"] for events, _ in answers) == 40
    assert sum(events["duplicates"] for events, _ in answers) == 360
    assert sum(closed["stored"] for _, closed in answers) == 1
    store = tracengent_platform.store
    assert len(store.events()) == 40
    # Each stored llm_call counted its tokens once.
    assert store.token_usage("demo-agent").used == 40
    counters = store.counters()["demo-agent"]
    assert (counters.events_stored, counters.duplicates_ignored) == (40, 360 + 9)
