"""Text rendering of decision traces as trees (shared by `tracengent traces` and `tracengent demo`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue
from tracengent.platform import StoredEvent, TraceRecord

__all__ = ["render_event", "render_traces"]


def _number(value: JsonValue) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def render_event(body: JsonObject) -> str:
    """One line: type, name, status, then duration, cost and tokens when present."""
    parts = [str(body.get("type")), str(body.get("name")), f"[{body.get('status')}]"]
    duration = _number(body.get("durationMs"))
    if duration is not None:
        parts.append(f"{duration:.1f} ms")
    cost = body.get("cost")
    if isinstance(cost, dict) and _number(cost.get("amount")) is not None:
        parts.append(f"cost {_number(cost.get('amount')):g} {cost.get('currency', '')}".rstrip())
    usage = body.get("usage")
    if isinstance(usage, dict) and _number(usage.get("tokens")) is not None:
        model = usage.get("model")
        suffix = f" ({model})" if isinstance(model, str) else ""
        parts.append(f"{int(_number(usage.get('tokens')) or 0)} tokens{suffix}")
    return " ".join(parts)


def _interval(body: JsonObject) -> tuple[float, float] | None:
    """The event's [start, end] in seconds since the epoch, when its time is known."""
    occurred = body.get("occurredAt")
    if not isinstance(occurred, str):
        return None
    try:
        start = datetime.fromisoformat(occurred).timestamp()
    except ValueError:
        return None
    duration = _number(body.get("durationMs"))
    return start, start + (duration or 0.0) / 1000.0


def _encloses(outer: tuple[float, float] | None, inner: tuple[float, float] | None) -> bool:
    # Without both times there is nothing to contradict the link: nest as `parentEventId` says.
    if outer is None or inner is None:
        return True
    return outer[0] <= inner[0] <= outer[1]


def _tree(events: Sequence[StoredEvent], echo: Callable[[str], None], indent: str) -> None:
    """Nest an event under its `parentEventId` only when that event encloses it in time.

    `parentEventId` also links an event to the one it merely follows (wire contract §2); such a
    follower (it starts after the other ended) is shown beside it, not under it.
    """
    by_id = {e.body["eventId"]: e for e in events if isinstance(e.body.get("eventId"), str)}
    intervals = {event_id: _interval(e.body) for event_id, e in by_id.items()}

    def placed_parent(event: StoredEvent) -> str | None:
        interval = _interval(event.body)
        parent = event.body.get("parentEventId")
        seen: set[str] = set()
        while isinstance(parent, str) and parent in by_id and parent not in seen:
            if _encloses(intervals[parent], interval):
                return parent
            seen.add(parent)
            parent = by_id[parent].body.get("parentEventId")
        return None

    children: dict[str | None, list[StoredEvent]] = {}
    for event in events:
        children.setdefault(placed_parent(event), []).append(event)
    for siblings in children.values():
        siblings.sort(key=lambda e: (_interval(e.body) or (0.0, 0.0))[0])

    def walk(parent: str | None, depth: int, seen: frozenset[str]) -> None:
        for event in children.get(parent, []):
            echo(f"{indent}{'  ' * depth}- {render_event(event.body)}")
            event_id = event.body.get("eventId")
            # A cycle of parentEventIds must not recurse forever.
            if isinstance(event_id, str) and event_id not in seen:
                walk(event_id, depth + 1, seen | {event_id})

    walk(None, 0, frozenset())


def render_traces(
    traces: Sequence[TraceRecord],
    standalone: Sequence[StoredEvent],
    echo: Callable[[str], None],
) -> None:
    """Print traces (as given, newest first) as trees, then the standalone events."""
    if not traces and not standalone:
        echo("no traces or events recorded yet")
        return
    for trace in traces:
        root = f" {trace.root_request!r}" if trace.root_request else ""
        echo(f"{trace.trace_id} [{trace.status}] {trace.agent_id}{root}")
        if trace.summary:
            echo(f"  summary: {trace.summary}")
        _tree(trace.events, echo, "  ")
    if standalone:
        echo("standalone events:")
        for event in standalone:
            echo(f"  - {render_event(event.body)}")
