"""The web console's page and JSON endpoints, served by the platform app over a real store."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.integration.console.conftest import (
    HOSTILE,
    OTEL_TRACE_ID,
    TRACE_ID,
    csrf_token,
    event,
)
from tracengent.platform import ApprovalRecord, PlatformStore


def pending_refund(store: PlatformStore, amount: float = 800) -> ApprovalRecord:
    """A pending 800 EUR refund approval inside `TRACE_ID`."""
    return store.create_approval(
        agent_id="demo-agent",
        permission="payments:refund",
        context={"amount": amount, "currency": "EUR", "note": HOSTILE},
        ttl_seconds=600,
        amount=amount,
        currency="EUR",
        trace_id=TRACE_ID,
    )


def test_page_escapes_untrusted_event_fields(console: TestClient, store: PlatformStore) -> None:
    """An event named `<script>` (and a hostile root request and status) shows as text only."""
    store.ingest_events(
        "demo-agent",
        [event("evt_1", HOSTILE, rootRequest=HOSTILE, status='"><img src=x onerror=alert(1)>')],
    )
    pending_refund(store)
    page = console.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<script>window" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in page.text
    # The only scripts are the console's own file; no inline script may run at all.
    assert page.text.count("<script") == 1
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_state_lists_traces_newest_first_with_tree_and_decisions(
    console: TestClient, store: PlatformStore
) -> None:
    """The state endpoint nests events, shows the OTel id and the decisions taken in the trace."""
    store.ingest_events("demo-agent", [event("evt_old", "old", traceId="trc_other")])
    store.ingest_events(
        "demo-agent",
        [
            event("evt_root", "refund", durationMs=100, rootRequest="refund order 42"),
            event(
                "evt_llm",
                "draft",
                type="llm_call",
                parentEventId="evt_root",
                occurredAt="2026-11-25T02:00:00.010Z",
                usage={"tokens": 90, "model": "m-2"},
                cost={"amount": 0.25, "currency": "EUR"},
            ),
        ],
    )
    store.record_decision(
        agent_id="demo-agent",
        kind="authorize",
        permission="payments:refund",
        status="approval_required",
        reason="over the 500 EUR approval threshold",
        request={"permission": "payments:refund"},
        trace_id=TRACE_ID,
    )
    state = console.get("/console/api/state").json()
    assert [t["traceId"] for t in state["traces"]] == [TRACE_ID, "trc_other"]
    newest = state["traces"][0]
    assert newest["otelTraceId"] == OTEL_TRACE_ID
    assert state["traces"][1]["otelTraceId"] is None
    assert newest["rootRequest"] == "refund order 42"
    assert [(e["depth"], e["name"]) for e in newest["events"]] == [(0, "refund"), (1, "draft")]
    llm = newest["events"][1]
    assert (llm["tokens"], llm["model"], llm["cost"]) == (
        90,
        "m-2",
        {"amount": 0.25, "currency": "EUR"},
    )
    (decision,) = newest["decisions"]
    assert decision["reason"] == "over the 500 EUR approval threshold"
    assert state["traces"][1]["decisions"] == []


def test_filters_by_agent_status_and_event_type(console: TestClient, store: PlatformStore) -> None:
    """Each filter keeps only the traces that match it."""
    store.ingest_events("demo-agent", [event("evt_a", "a", type="llm_call")])
    store.ingest_events("car-agent", [event("evt_b", "b", traceId="trc_car", agentId="car-agent")])
    store.ingest_trace_close(
        "car-agent", {"traceId": "trc_car", "agentId": "car-agent", "status": "failed"}
    )

    def shown(query: str) -> list[str]:
        return [t["traceId"] for t in console.get(f"/console/api/state?{query}").json()["traces"]]

    assert shown("") == ["trc_car", TRACE_ID]
    assert shown("agent=car-agent") == ["trc_car"]
    assert shown("status=open") == [TRACE_ID]
    assert shown("status=failed") == ["trc_car"]
    assert shown("type=llm_call") == [TRACE_ID]
    assert shown("type=tool_call") == []


def test_counters_report_received_rejected_and_duplicates(
    console: TestClient, store: PlatformStore
) -> None:
    """Per-agent counters carry duplicates and rejection reasons."""
    store.ingest_events("demo-agent", [event("evt_1", "a")])
    store.ingest_events("demo-agent", [event("evt_1", "a")])
    store.count_rejection("demo-agent", "invalid status")
    counters = console.get("/console/api/state").json()["counters"]["demo-agent"]
    assert counters["eventsReceived"] == 2
    assert counters["eventsStored"] == 1
    assert counters["duplicatesIgnored"] == 1
    assert counters["rejectionReasons"] == {"invalid status": 1}
    html = console.get("/console/api/fragments").json()["counters"]
    assert "invalid status: 1" in html


def test_fragments_render_pending_approvals_escaped(
    console: TestClient, store: PlatformStore
) -> None:
    """The live fragments show what is asked, escaped, with Approve and Deny buttons."""
    approval = pending_refund(store)
    fragments = console.get("/console/api/fragments").json()
    assert fragments["pendingApprovals"] == 1
    html = fragments["approvals"]
    assert "800 EUR" in html
    assert f'action="/console/approvals/{approval.approval_id}/approve"' in html
    assert f'action="/console/approvals/{approval.approval_id}/deny"' in html
    assert OTEL_TRACE_ID in html
    assert "<script>" not in html


@pytest.mark.parametrize(("verb", "status"), [("approve", "approved"), ("deny", "denied")])
def test_decision_with_the_page_token_is_stored(
    console: TestClient, store: PlatformStore, verb: str, status: str
) -> None:
    """A form post carrying the page's token decides the approval and returns to the console."""
    approval = pending_refund(store)
    token = csrf_token(console.get("/").text)
    answer = console.post(
        f"/console/approvals/{approval.approval_id}/{verb}",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    decided = store.approval(approval.approval_id)
    assert decided is not None
    assert decided.status == status


def test_script_decision_answers_json(console: TestClient, store: PlatformStore) -> None:
    """The page's script sends the token in a header and gets the decided approval back."""
    approval = pending_refund(store)
    token = csrf_token(console.get("/").text)
    answer = console.post(
        f"/console/approvals/{approval.approval_id}/approve",
        headers={
            "X-Tracengent-CSRF": token,
            "Accept": "application/json",
            "Origin": "http://127.0.0.1:8080",
            "Sec-Fetch-Site": "same-origin",
        },
    )
    assert answer.status_code == 200
    assert answer.json()["approval"]["status"] == "approved"


@pytest.mark.parametrize(
    ("headers", "with_token"),
    [
        ({}, False),
        ({"Origin": "http://evil.example"}, True),
        ({"Sec-Fetch-Site": "cross-site"}, True),
        ({"X-Tracengent-CSRF": "guessed"}, False),
    ],
    ids=["no-token", "other-origin", "cross-site", "wrong-token"],
)
def test_cross_site_decisions_are_refused(
    console: TestClient, store: PlatformStore, headers: dict[str, str], with_token: bool
) -> None:
    """Without the page's token, or from another origin, nothing is decided."""
    approval = pending_refund(store)
    form = {"csrf_token": csrf_token(console.get("/").text)} if with_token else {}
    answer = console.post(
        f"/console/approvals/{approval.approval_id}/approve", data=form, headers=headers
    )
    assert answer.status_code == 403
    still = store.approval(approval.approval_id)
    assert still is not None
    assert still.status == "pending"


def test_unknown_and_decided_approvals(console: TestClient, store: PlatformStore) -> None:
    """An unknown approval is 404, a second decision 409, an unknown verb 404."""
    approval = pending_refund(store)
    headers = {"X-Tracengent-CSRF": csrf_token(console.get("/").text)}
    assert console.post("/console/approvals/apr_nope/approve", headers=headers).status_code == 404
    path = f"/console/approvals/{approval.approval_id}"
    assert console.post(f"{path}/grant", headers=headers).status_code == 404
    assert console.post(f"{path}/deny", headers=headers, follow_redirects=False).status_code == 303
    second = console.post(f"{path}/approve", headers=headers)
    assert second.status_code == 409
    assert "already denied" in second.json()["detail"]


def test_non_loopback_host_is_refused(console: TestClient) -> None:
    """A request for another host name (DNS rebinding) gets no console."""
    answer = console.get("/", headers={"Host": "attacker.example:8080"})
    assert answer.status_code == 403
    assert console.get("/", headers={"Host": "localhost:8080"}).status_code == 200
    assert console.get("/", headers={"Host": "[::1]:8080"}).status_code == 200
    # The API's rule (`is_loopback_host_header`): a port that is not a number names no loopback.
    assert console.get("/", headers={"Host": "localhost:evil.example"}).status_code == 403


def test_static_files_are_served_from_the_package(console: TestClient) -> None:
    """The stylesheet and script come from the installed package; other names are 404."""
    css = console.get("/console/static/console.css")
    script = console.get("/console/static/console.js")
    assert css.headers["content-type"].startswith("text/css")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "/console/api/fragments" in script.text
    assert console.get("/console/static/store.py").status_code == 404


def test_standalone_events_newest_first_and_filtered(
    console: TestClient, store: PlatformStore
) -> None:
    """Events outside any trace are listed newest first and follow the agent and type filters."""
    store.ingest_events(
        "demo-agent",
        [
            {"eventId": "evt_s1", "type": "action", "name": "invoice", "status": "success"},
            {"eventId": "evt_s2", "type": "error", "name": "crash", "status": "failure"},
        ],
    )

    def shown(query: str) -> list[str | None]:
        state = console.get(f"/console/api/state?{query}").json()
        return [e["name"] for e in state["standaloneEvents"]]

    assert shown("") == ["crash", "invoice"]
    assert shown("type=action") == ["invoice"]
    assert shown("status=failure") == ["crash"]
    assert shown("agent=car-agent") == []
    assert "invoice" in console.get("/console/api/fragments").json()["standalone"]
