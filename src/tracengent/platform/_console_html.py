"""The web console's HTML: the page and the sections the page's script refreshes.

Every value that came from an agent (names, statuses, ids, context) passes through `_esc`; class
names are chosen from fixed sets, never taken from data. The page loads no inline script or
style, so the Content-Security-Policy can forbid them (a missed escape still runs nothing).
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Final, TypeGuard

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue
from tracengent.platform._console_view import EVENT_TYPES, ConsoleFilters, ConsoleState

__all__ = [
    "render_approvals",
    "render_counters",
    "render_page",
    "render_standalone",
    "render_traces",
]

_DASH: Final = "\u2014"
_MAX_SHOWN_CHARS: Final = 500
"""Longest text shown of one value (a longer one is cut, with an ellipsis): an agent's 16 MiB
event name would otherwise be rendered, escaped and sent on every poll."""
_MAX_DEPTH_CLASS: Final = 8
_STATUS_CLASSES: Final = {
    "success": "ok",
    "completed": "ok",
    "approved": "ok",
    "allowed": "ok",
    "allow": "ok",
    "failure": "bad",
    "failed": "bad",
    "denied": "bad",
    "deny": "bad",
    "error": "bad",
    "open": "info",
    "pending": "warn",
    "approval_required": "warn",
    "pending_approval": "warn",
    "expired": "other",
}


def _esc(value: JsonValue) -> str:
    """`value` as escaped HTML text (quotes too: safe in attributes), cut after
    `_MAX_SHOWN_CHARS` characters; None shows as a dash."""
    if value is None:
        return _DASH
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    if len(text) > _MAX_SHOWN_CHARS:
        text = text[:_MAX_SHOWN_CHARS] + "\u2026"
    return html.escape(text, quote=True)


def _badge(status: JsonValue) -> str:
    css = _STATUS_CLASSES.get(status, "other") if isinstance(status, str) else "other"
    return f'<span class="badge {css}">{_esc(status)}</span>'


def _is_number(value: JsonValue) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _duration(value: JsonValue) -> str:
    if not _is_number(value):
        return _DASH
    if value < 1:
        return _esc(f"{value:.2f} ms")
    if value < 1000:
        return _esc(f"{value:.1f} ms")
    return _esc(f"{value / 1000:.2f} s")


def _when(value: JsonValue) -> str:
    """A wire timestamp as a `<time>` shown to the second in UTC (as sent when unparsable)."""
    if not isinstance(value, str):
        return _DASH
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    except (ValueError, OverflowError, OSError):
        return f"<time>{_esc(value)}</time>"
    shown = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f'<time datetime="{_esc(value)}">{shown}</time>'


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _money(amount: JsonValue, currency: JsonValue) -> str:
    if not _is_number(amount):
        return _DASH
    suffix = f" {currency}" if isinstance(currency, str) else ""
    return _esc(f"{amount:g}{suffix}")


def _otel(otel_id: JsonValue) -> str:
    if not isinstance(otel_id, str):
        return _DASH
    return f'<code class="otel" title="OpenTelemetry trace id">{_esc(otel_id)}</code>'


def _objects(value: JsonValue) -> list[JsonObject]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def render_counters(counters: JsonObject) -> str:
    """The per-agent ingest counters table (or a line saying nothing was received)."""
    if not counters:
        return '<p class="empty">No events received yet.</p>'
    rows = []
    for agent, value in counters.items():
        c = value if isinstance(value, dict) else {}
        reasons = c.get("rejectionReasons")
        reason_text = (
            "; ".join(f"{_esc(k)}: {_esc(n)}" for k, n in reasons.items())
            if isinstance(reasons, dict) and reasons
            else _DASH
        )
        rows.append(
            f'<tr><th scope="row">{_esc(agent)}</th>'
            f'<td class="num">{_esc(c.get("eventsReceived"))}</td>'
            f'<td class="num">{_esc(c.get("eventsStored"))}</td>'
            f'<td class="num">{_esc(c.get("duplicatesIgnored"))}</td>'
            f'<td class="num">{_esc(c.get("traceClosesReceived"))}</td>'
            f'<td class="num">{_esc(c.get("batchesRejected"))}</td>'
            f"<td>{reason_text}</td></tr>"
        )
    return (
        '<table class="counters"><caption class="visually-hidden">Ingest counters per agent'
        '</caption><thead><tr><th scope="col">Agent</th>'
        '<th scope="col" class="num">Events received</th><th scope="col" class="num">Stored</th>'
        '<th scope="col" class="num">Duplicates ignored</th>'
        '<th scope="col" class="num">Trace closes</th>'
        '<th scope="col" class="num">Batches rejected</th>'
        '<th scope="col">Rejection reasons</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
    )


def _decide_form(approval_id: str, verb: str, label: str, what: str, csrf_token: str) -> str:
    return (
        f'<form class="decide" method="post" action="/console/approvals/{_esc(approval_id)}/'
        f'{verb}"><input type="hidden" name="csrf_token" value="{_esc(csrf_token)}">'
        f'<button type="submit" class="{verb}" aria-label="{label} {what}">{label}</button></form>'
    )


def render_approvals(
    approvals: Sequence[JsonObject], csrf_token: str, *, total: int | None = None
) -> str:
    """Pending approvals, oldest first, each with Approve and Deny buttons; a note counts those
    of the `total` pending that are not among them."""
    if not approvals:
        return '<p class="empty">No approvals are waiting.</p>'
    rows = []
    for a in approvals:
        approval_id = str(a.get("approvalId"))
        amount = _money(a.get("amount"), a.get("currency"))
        raw_amount = a.get("amount")
        asked = f" {raw_amount:g} {a.get('currency') or ''}" if _is_number(raw_amount) else ""
        acting_for = a.get("actingFor")
        # Held under a delegated token: the agent asked on another's authority (its permissions,
        # its limits, its budget); the person deciding sees whose.
        behalf = f" acting for {acting_for}" if isinstance(acting_for, str) else ""
        what = _esc(f"{a.get('permission')}{asked.rstrip()} for {a.get('agentId')}{behalf}")
        agent = _esc(a.get("agentId")) + (
            f' <span class="acting-for">acting for {_esc(acting_for)}</span>' if behalf else ""
        )
        anchor = a.get("traceAnchor")
        trace = (
            f'<a href="#{_esc(anchor)}">{_otel(a.get("otelTraceId"))}</a>'
            if isinstance(anchor, str)
            else _DASH
        )
        context = a.get("context")
        rows.append(
            f'<tr data-approval-id="{_esc(approval_id)}">'
            f'<td class="when">{_when(a.get("createdAt"))}</td>'
            f'<td class="agent">{agent}</td>'
            f'<td><code class="permission">{_esc(a.get("permission"))}</code></td>'
            f'<td class="num">{amount}</td>'
            f'<td><code class="context">{_esc(context) if context else _DASH}</code></td>'
            f"<td>{trace}</td>"
            f'<td class="actions">'
            f"{_decide_form(approval_id, 'approve', 'Approve', what, csrf_token)}"
            f"{_decide_form(approval_id, 'deny', 'Deny', what, csrf_token)}</td></tr>"
        )
    return (
        '<table class="approvals"><caption class="visually-hidden">Pending approvals</caption>'
        '<thead><tr><th scope="col">Requested</th><th scope="col">Agent</th>'
        '<th scope="col">Permission</th><th scope="col" class="num">Amount</th>'
        '<th scope="col">Context</th>'
        '<th scope="col">Trace</th><th scope="col">Decision</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
        + _more(len(approvals), len(approvals) if total is None else total, "pending approval")
    )


def _event_rows(events: list[JsonObject]) -> str:
    rows = []
    for ev in events:
        depth = ev.get("depth")
        level = min(depth, _MAX_DEPTH_CLASS) if isinstance(depth, int) else 0
        cost = ev.get("cost")
        tokens = ev.get("tokens")
        model = ev.get("model")
        cost_text = (
            _money(cost.get("amount"), cost.get("currency")) if isinstance(cost, dict) else _DASH
        )
        token_text = _DASH
        if isinstance(tokens, int):
            token_text = _esc(f"{tokens}" + (f" ({model})" if isinstance(model, str) else ""))
        rows.append(
            f'<tr class="event"><td class="tree depth-{level}">'
            f'<span class="type">{_esc(ev.get("type"))}</span></td>'
            f'<td class="name">{_esc(ev.get("name"))}</td>'
            f"<td>{_badge(ev.get('status'))}</td>"
            f'<td class="num">{_duration(ev.get("durationMs"))}</td>'
            f'<td class="num">'
            f"{cost_text}"
            f'</td><td class="num">{token_text}</td></tr>'
        )
    return "".join(rows)


def _decisions(decisions: list[JsonObject]) -> str:
    if not decisions:
        return '<p class="empty">No governance decisions in this trace.</p>'
    rows = "".join(
        f"<tr><td><code>{_esc(d.get('permission'))}</code></td><td>{_esc(d.get('kind'))}</td>"
        f"<td>{_badge(d.get('status'))}</td><td>{_esc(d.get('reason'))}</td>"
        f"<td>{_badge(d.get('approvalStatus')) if d.get('approvalStatus') else _DASH}</td>"
        f'<td class="when">{_when(d.get("createdAt"))}</td></tr>'
        for d in decisions
    )
    return (
        '<table class="decisions"><caption>Governance decisions</caption><thead><tr>'
        '<th scope="col">Permission</th><th scope="col">Kind</th><th scope="col">Decision</th>'
        '<th scope="col">Reason</th><th scope="col">Approval</th><th scope="col">At</th>'
        "</tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _more(shown: int, total: int, what: str) -> str:
    """A note counting what of a trace the page leaves out (nothing left out: no note)."""
    if total <= shown:
        return ""
    return (
        f'<p class="note more">{_plural(total - shown, "more " + what)} not shown'
        f" (the console shows the first {shown}).</p>"
    )


def _trace(t: JsonObject) -> str:
    trace_id = t.get("traceId")
    events = _objects(t.get("events"))
    decisions = _objects(t.get("decisions"))
    event_count = t.get("eventCount")
    event_count = event_count if isinstance(event_count, int) else len(events)
    decision_count = t.get("decisionCount")
    decision_count = decision_count if isinstance(decision_count, int) else len(decisions)
    root = t.get("rootRequest")
    received = t.get("lastReceivedAt")
    last = f", last event {_when(received)}" if received else ""
    event_table = (
        '<table class="events"><caption>Events</caption><thead><tr><th scope="col">Type</th>'
        '<th scope="col">Name</th><th scope="col">Status</th>'
        '<th scope="col" class="num">Duration</th><th scope="col" class="num">Cost</th>'
        f'<th scope="col" class="num">Tokens</th></tr></thead><tbody>{_event_rows(events)}'
        "</tbody></table>"
        if events
        else '<p class="empty">No events received for this trace.</p>'
    )
    return (
        f'<details class="trace" id="{_esc(t.get("anchor"))}" data-trace-id="{_esc(trace_id)}"'
        f' data-agent-id="{_esc(t.get("agentId"))}">'
        f"<summary>{_badge(t.get('status'))} "
        f'<span class="agent">{_esc(t.get("agentId"))}</span> '
        f'<span class="root">{_esc(root) if root else "(no root request)"}</span> '
        f'<span class="meta">{_plural(event_count, "event")}, '
        f"{_plural(decision_count, 'decision')}{last}</span></summary>"
        f'<div class="trace-body"><dl>'
        f"<dt>OTel trace id</dt><dd>{_otel(t.get('otelTraceId'))}</dd>"
        f"<dt>Tracengent trace id</dt><dd><code>{_esc(trace_id)}</code></dd>"
        f"<dt>Summary</dt><dd>{_esc(t.get('summary'))}</dd>"
        f"</dl>{event_table}{_more(len(events), event_count, 'event')}"
        f"{_decisions(decisions)}{_more(len(decisions), decision_count, 'decision')}"
        "</div></details>"
    )


def render_traces(state: ConsoleState) -> str:
    """The decision traces, newest first, each a disclosure holding its tree and decisions."""
    if not state.traces:
        return '<p class="empty">No decision traces match.</p>'
    shown = len(state.traces)
    note = (
        f'<p class="note">Showing the newest {shown} of {state.traces_total} traces.</p>'
        if state.traces_total > shown
        else ""
    )
    return note + "".join(_trace(t) for t in state.traces)


def render_standalone(state: ConsoleState) -> str:
    """Events recorded outside any decision trace, newest first; a note says when older ones
    are left out."""
    if not state.standalone_events:
        return '<p class="empty">No standalone events match.</p>'
    return (
        '<table class="events"><caption class="visually-hidden">Standalone events</caption>'
        '<thead><tr><th scope="col">Type</th><th scope="col">Name</th><th scope="col">Status</th>'
        '<th scope="col" class="num">Duration</th><th scope="col" class="num">Cost</th>'
        '<th scope="col" class="num">Tokens</th></tr>'
        f"</thead><tbody>{_event_rows(state.standalone_events)}</tbody></table>"
        + (
            f'<p class="note more">Older standalone events are not shown (the console shows the'
            f" newest {len(state.standalone_events)}; <code>tracengent traces</code> lists"
            " every event).</p>"
            if state.standalone_more
            else ""
        )
    )


def _select(name: str, label: str, options: Sequence[str], chosen: str) -> str:
    items = [f'<option value=""{" selected" if not chosen else ""}>any</option>']
    for option in options:
        selected = " selected" if option == chosen else ""
        items.append(f'<option value="{_esc(option)}"{selected}>{_esc(option)}</option>')
    if chosen and chosen not in options:
        items.append(f'<option value="{_esc(chosen)}" selected>{_esc(chosen)}</option>')
    return (
        f'<label for="filter-{name}">{label}</label>'
        f'<select id="filter-{name}" name="{name}">{"".join(items)}</select>'
    )


def render_page(state: ConsoleState, filters: ConsoleFilters, csrf_token: str) -> str:
    """The whole console page, sections filled (the script keeps them fresh)."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{_esc(csrf_token)}">
<title>Tracengent local console</title>
<link rel="icon" href="/console/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/console/static/console.css">
<script src="/console/static/console.js" defer></script>
</head>
<body>
<header>
<h1>Tracengent local console</h1>
<p>The local platform's decision traces and approvals. Updates live;
<span id="live-status">loaded</span></p>
</header>
<main>
<section aria-labelledby="approvals-heading">
<h2 id="approvals-heading">Pending approvals</h2>
<div id="decide-result" role="status" aria-live="polite"></div>
<div id="approvals" data-section="approvals">{render_approvals(state.approvals, csrf_token, total=state.approvals_total)}</div>
</section>
<section aria-labelledby="counters-heading">
<h2 id="counters-heading">Events received</h2>
<div id="counters" data-section="counters">{render_counters(state.counters)}</div>
</section>
<section aria-labelledby="traces-heading">
<h2 id="traces-heading">Decision traces</h2>
<form id="filters" method="get" action="/" class="filters">
{_select("agent", "Agent", state.agents, filters.agent)}
{_select("status", "Status", state.statuses, filters.status)}
{_select("type", "Event type", EVENT_TYPES, filters.event_type)}
<button type="submit">Apply filters</button>
</form>
<div id="traces" data-section="traces">{render_traces(state)}</div>
</section>
<section aria-labelledby="standalone-heading">
<h2 id="standalone-heading">Standalone events</h2>
<div id="standalone" data-section="standalone">{render_standalone(state)}</div>
</section>
</main>
</body>
</html>
"""
