"""Text rendering of decision traces as trees (shared by `tracengent traces` and `tracengent demo`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from tracengent.platform import StoredEvent, TraceRecord
from tracengent.platform._tree import event_tree, number

__all__ = ["plain", "render_event", "render_traces"]


def plain(value: object) -> str:
    """`value` as text safe to print on a terminal line: what is not printable shows escaped.

    Agents name their events: a newline would forge a line of the tree, an escape sequence would
    drive the terminal, a bidi override would reorder what is shown. Each shows as its Python
    escape (`\\n`, `\\x1b`, `\\u202e`) instead.
    """
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def render_event(body: JsonObject) -> str:
    """One line: type, name, status, then duration, cost and tokens when present."""
    parts = [plain(body.get("type")), plain(body.get("name")), f"[{plain(body.get('status'))}]"]
    duration = number(body.get("durationMs"))
    if duration is not None:
        parts.append(f"{duration:.1f} ms")
    cost = body.get("cost")
    if isinstance(cost, dict) and number(cost.get("amount")) is not None:
        # A currency that is not text (null, an object) is left out, as the console does.
        currency = cost.get("currency")
        shown = plain(currency) if isinstance(currency, str) else ""
        parts.append(f"cost {number(cost.get('amount')):g} {shown}".rstrip())
    usage = body.get("usage")
    if isinstance(usage, dict) and number(usage.get("tokens")) is not None:
        model = usage.get("model")
        suffix = f" ({plain(model)})" if isinstance(model, str) else ""
        parts.append(f"{int(number(usage.get('tokens')) or 0)} tokens{suffix}")
    return " ".join(parts)


_MAX_INDENT: Final = 32
"""The deepest level indented (two spaces a level); a deeper event's line names its depth instead:
a trace nested thousands of levels deep would otherwise print output quadratic in its length."""


def _tree(events: Sequence[StoredEvent], echo: Callable[[str], None], indent: str) -> None:
    """Print the events as a tree (placement: `tracengent.platform._tree.event_tree`)."""
    for depth, event in event_tree(events):
        shown = f"[depth {depth}] " if depth > _MAX_INDENT else ""
        echo(f"{indent}{'  ' * min(depth, _MAX_INDENT)}{shown}- {render_event(event.body)}")


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
        echo(f"{plain(trace.trace_id)} [{plain(trace.status)}] {plain(trace.agent_id)}{root}")
        if trace.summary:
            echo(f"  summary: {plain(trace.summary)}")
        _tree(trace.events, echo, "  ")
    if standalone:
        echo("standalone events:")
        for event in standalone:
            echo(f"  - {render_event(event.body)}")
