"""Where `event_tree` places the events of a trace: depth first, however deep, cycles cut."""

from __future__ import annotations

import sys

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from tracengent.platform._records import StoredEvent
from tracengent.platform._tree import event_tree


def _event(seq: int, event_id: str, parent: str | None = None) -> StoredEvent:
    body: JsonObject = {"eventId": event_id, "type": "action", "name": event_id}
    if parent is not None:
        body["parentEventId"] = parent
    return StoredEvent(seq, "a", "2026-11-24T10:00:00.000000+00:00", body)


def _placed(events: list[StoredEvent]) -> list[tuple[int, str]]:
    return [(depth, str(event.body["eventId"])) for depth, event in event_tree(events)]


def test_a_chain_deeper_than_the_recursion_limit_is_placed_level_by_level() -> None:
    """A chain of parentEventIds longer than Python's recursion limit nests one level per event."""
    length = sys.getrecursionlimit() + 200
    events = [_event(i, f"evt_{i}", f"evt_{i - 1}" if i else None) for i in range(length)]
    assert _placed(events) == [(i, f"evt_{i}") for i in range(length)]


def test_children_follow_their_parent_depth_first() -> None:
    """Each event is followed by what nests under it before its next sibling."""
    events = [
        _event(1, "root"),
        _event(2, "a", "root"),
        _event(3, "a1", "a"),
        _event(4, "b", "root"),
        _event(5, "other"),
    ]
    assert _placed(events) == [(0, "root"), (1, "a"), (2, "a1"), (1, "b"), (0, "other")]


def test_a_cycle_of_parent_event_ids_is_cut_and_every_event_shown_once() -> None:
    """Events whose parentEventIds loop are shown once each, the first received at the top level."""
    events = [
        _event(1, "top"),
        _event(2, "a", "b"),
        _event(3, "b", "a"),
        _event(4, "self", "self"),
    ]
    assert _placed(events) == [(0, "top"), (0, "a"), (1, "b"), (0, "self")]
