"""`event_tree` on long traces whose events follow one another (shared by the CLI and console)."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from tracengent.platform._records import StoredEvent
from tracengent.platform._tree import _encloses, _interval, event_tree

_T0 = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)


def _event(
    seq: int, event_id: str, parent: str | None, start_s: float | None, ms: float
) -> StoredEvent:
    body: JsonObject = {"eventId": event_id, "type": "action", "name": event_id, "durationMs": ms}
    if start_s is not None:
        body["occurredAt"] = (_T0 + timedelta(seconds=start_s)).isoformat()
    if parent is not None:
        body["parentEventId"] = parent
    return StoredEvent(seq, "a", "2026-11-25T02:00:00+00:00", body)


def test_a_long_run_of_followers_is_placed_in_linear_time() -> None:
    """20 000 steps, each following the previous under one root span, place in well under 5 s.

    Each step's `parentEventId` is the step it follows (wire contract §2): placing a step used to
    walk back through every earlier step to find the root, quadratic in the trace's length.
    """
    count = 20_000
    events = [_event(0, "root", None, 0.0, count * 1000.0 + 1000)]
    events += [
        _event(i, f"step_{i}", "root" if i == 1 else f"step_{i - 1}", float(i), 500.0)
        for i in range(1, count + 1)
    ]
    began = time.perf_counter()
    placed = event_tree(events)
    elapsed = time.perf_counter() - began
    assert [depth for depth, _ in placed] == [0] + [1] * count
    assert elapsed < 5.0, f"placing {count} followers took {elapsed:.1f} s"


def _naive_tree(events: list[StoredEvent]) -> list[tuple[int, int]]:
    """The placement rule walked naively (each event climbs its ancestors one by one)."""
    by_id = {e.body["eventId"]: e for e in events if isinstance(e.body.get("eventId"), str)}

    def placed_parent(event: StoredEvent) -> str | None:
        interval = _interval(event.body)
        parent = event.body.get("parentEventId")
        seen: set[str] = set()
        while isinstance(parent, str) and parent in by_id and parent not in seen:
            if _encloses(_interval(by_id[parent].body), interval):
                return parent
            seen.add(parent)
            parent = by_id[parent].body.get("parentEventId")
        return None

    children: dict[str | None, list[StoredEvent]] = {}
    for event in events:
        children.setdefault(placed_parent(event), []).append(event)
    for siblings in children.values():
        siblings.sort(key=lambda e: (_interval(e.body) or (0.0, 0.0))[0])
    placed: list[tuple[int, int]] = []
    shown: set[int] = set()

    def place(event: StoredEvent, depth: int) -> None:
        if id(event) in shown:
            return
        shown.add(id(event))
        placed.append((depth, event.seq))
        event_id = event.body.get("eventId")
        for child in children.get(event_id, []) if isinstance(event_id, str) else []:
            place(child, depth + 1)

    for event in children.get(None, []):
        place(event, 0)
    for event in events:
        place(event, 0)
    return placed


def test_placement_matches_the_naive_walk_on_random_traces() -> None:
    """Random forests (cycles, unknown times, repeated ids, followers) place as the naive walk."""
    rng = random.Random(7)
    for _ in range(2000):
        size = rng.randint(1, 30)
        events = []
        for i in range(size):
            parent = f"e{rng.randrange(size)}" if rng.random() < 0.8 else None
            start = None if rng.random() < 0.1 else float(rng.randint(0, 60))
            event_id = f"e{i}" if rng.random() < 0.95 else f"e{rng.randrange(size)}"
            events.append(_event(i, event_id, parent, start, float(rng.randint(0, 20_000))))
        placed = [(depth, event.seq) for depth, event in event_tree(events)]
        assert placed == _naive_tree(events), events
