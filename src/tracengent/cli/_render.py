"""Text rendering of decision traces as trees (shared by `tracengent traces` and `tracengent demo`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

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


def _tree(events: Sequence[StoredEvent], echo: Callable[[str], None], indent: str) -> None:
    ids = {e.body.get("eventId") for e in events if isinstance(e.body.get("eventId"), str)}
    children: dict[str | None, list[StoredEvent]] = {}
    for event in events:
        parent = event.body.get("parentEventId")
        key = parent if isinstance(parent, str) and parent in ids else None
        children.setdefault(key, []).append(event)

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
