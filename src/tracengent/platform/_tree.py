"""Where each event of a decision trace sits in its tree (the CLI and the web console show it)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import datetime

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue, finite_float
from tracengent.platform._records import StoredEvent

__all__ = ["event_tree", "number"]


def number(value: JsonValue) -> float | None:
    """`value` as a finite float when it is a JSON number (not a bool) that has one, else None.

    A database may hold numbers ingest now refuses (an integer beyond the float range, stored
    before the check): they show as absent instead of failing the whole view.
    """
    return finite_float(value)


def _interval(body: JsonObject) -> tuple[float, float] | None:
    """The event's [start, end] in seconds since the epoch, when its time is known."""
    occurred = body.get("occurredAt")
    if not isinstance(occurred, str):
        return None
    try:
        start = datetime.fromisoformat(occurred).timestamp()
    except (ValueError, OverflowError, OSError):
        # A naive time at the edge of the calendar has no local timestamp: time unknown.
        return None
    duration = number(body.get("durationMs"))
    return start, start + (duration or 0.0) / 1000.0


def _encloses(outer: tuple[float, float] | None, inner: tuple[float, float] | None) -> bool:
    # Without both times there is nothing to contradict the link: nest as `parentEventId` says.
    if outer is None or inner is None:
        return True
    return outer[0] <= inner[0] <= outer[1]


def event_tree(events: Sequence[StoredEvent]) -> list[tuple[int, StoredEvent]]:
    """The events depth first, each with its depth (0 for a top-level event).

    An event nests under its `parentEventId` only when that event encloses it in time:
    `parentEventId` also links an event to the one it merely follows (wire contract §2), and such
    a follower (it starts after the other ended) is shown beside it, not under it. Siblings are
    ordered by start time. Each event appears once: a cycle of `parentEventId`s is cut above its
    first event received, which is shown at the top level.
    """
    by_id = {event_id: e for e in events if isinstance(event_id := e.body.get("eventId"), str)}
    intervals = {event_id: _interval(e.body) for event_id, e in by_id.items()}
    parent_of = {
        event_id: parent
        for event_id, e in by_id.items()
        if isinstance(parent := e.body.get("parentEventId"), str) and parent in by_id
    }
    # What the climb of an event (by id) found: the ancestor it nests under (None: the top level)
    # and the latest end among it and the ancestors it climbed past. A later climb that reaches
    # it starting after that end jumps straight to where it nests: none of those ancestors can
    # enclose the later event. Without the jump each step of a long run of followers would climb
    # back through every earlier step, quadratic in the trace's length.
    climbed: dict[str, tuple[str | None, float]] = {}

    def climb(interval: tuple[float, float] | None, parent: JsonValue) -> tuple[str | None, float]:
        """The nearest ancestor enclosing `interval`, and the latest end of those passed."""
        passed_end = -math.inf
        seen: set[str] = set()
        while isinstance(parent, str) and parent in by_id and parent not in seen:
            outer = intervals[parent]
            if interval is None or outer is None or _encloses(outer, interval):
                return parent, passed_end
            seen.add(parent)
            jump = climbed.get(parent)
            if jump is not None and jump[1] < interval[0]:
                # Only events off any cycle have a jump: none it skips can come round again.
                parent, passed_end = jump[0], max(passed_end, jump[1])
            else:
                parent, passed_end = parent_of.get(parent), max(passed_end, outer[1])
        return None, passed_end

    # Ancestors climb first: breadth first down from the events without a parent. Events on or
    # under a cycle of parentEventIds are never reached from there and climb one step at a time.
    below: dict[str, list[str]] = {}
    for event_id, parent_id in parent_of.items():
        below.setdefault(parent_id, []).append(event_id)
    order = [event_id for event_id in by_id if event_id not in parent_of]
    for event_id in order:
        interval = intervals[event_id]
        if event_id in parent_of and interval is not None:
            nests_under, passed_end = climb(interval, parent_of[event_id])
            climbed[event_id] = (nests_under, max(passed_end, interval[1]))
        order.extend(below.get(event_id, []))

    def placed_parent(event: StoredEvent) -> str | None:
        event_id = event.body.get("eventId")
        if isinstance(event_id, str) and event_id in climbed and by_id[event_id] is event:
            return climbed[event_id][0]
        return climb(_interval(event.body), event.body.get("parentEventId"))[0]

    children: dict[str | None, list[StoredEvent]] = {}
    for event in events:
        children.setdefault(placed_parent(event), []).append(event)
    for siblings in children.values():
        siblings.sort(key=lambda e: (_interval(e.body) or (0.0, 0.0))[0])

    placed: list[tuple[int, StoredEvent]] = []
    shown: set[int] = set()

    def place(top: Sequence[StoredEvent]) -> None:
        # An explicit stack of sibling iterators, not recursion: one batch can chain more events
        # by parentEventId than Python's recursion limit allows levels.
        stack: list[tuple[Iterator[StoredEvent], int]] = [(iter(top), 0)]
        while stack:
            siblings, depth = stack[-1]
            event = next(siblings, None)
            if event is None:
                stack.pop()
            elif id(event) not in shown:
                # An event reached again (through a repeated eventId) is not shown twice.
                shown.add(id(event))
                placed.append((depth, event))
                event_id = event.body.get("eventId")
                if isinstance(event_id, str):
                    stack.append((iter(children.get(event_id, [])), depth + 1))

    place(children.get(None, []))
    # Events never reached from the top level hang on a cycle of parentEventIds: the cycle is cut
    # above the first of them received, shown at the top level with what nests under it.
    for event in events:
        if id(event) not in shown:
            place([event])
    return placed
