"""A long text an agent sends is shown cut: one poll's HTML stays small however long it is."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.integration.console.conftest import TRACE_ID, event
from tracengent.platform import PlatformStore

_LONG = "<" * 200_000


def test_long_agent_text_is_cut_in_the_html_and_whole_in_the_state(
    console: TestClient, store: PlatformStore
) -> None:
    """A 200 000-character name, root request, summary and approval context show cut (with an
    ellipsis) in the page and its fragments; the state JSON still carries them whole."""
    store.ingest_events("demo-agent", [event("evt_1", _LONG, rootRequest=_LONG)])
    store.ingest_events(
        "demo-agent", [{"eventId": "evt_2", "type": "action", "name": _LONG, "status": "success"}]
    )
    store.ingest_trace_close(
        "demo-agent", {"traceId": TRACE_ID, "status": "failed", "summary": _LONG}
    )
    store.create_approval(
        agent_id="demo-agent",
        permission="payments:refund",
        context={"note": _LONG},
        ttl_seconds=600,
        amount=800,
        currency="EUR",
        trace_id=TRACE_ID,
    )
    fragments = console.get("/console/api/fragments").json()
    for section in ("approvals", "traces", "standalone"):
        assert len(fragments[section]) < 20_000, section
        assert "&lt;" * 100 + "\u2026" in fragments[section], section
    page = console.get("/")
    assert page.status_code == 200
    assert len(page.text) < 40_000
    state = console.get("/console/api/state").json()
    (trace,) = state["traces"]
    assert trace["events"][0]["name"] == _LONG
    assert trace["rootRequest"] == _LONG
    assert trace["summary"] == _LONG
    assert state["approvals"][0]["context"] == {"note": _LONG}
