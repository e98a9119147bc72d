"""The web console in a real browser against a real local platform and a real agent."""

from __future__ import annotations

import contextvars
import re
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from tests.integration.governance.conftest import PollSignal
from tracengent import LlmCallResult, Money, NotAuthorizedException, TracengentClient
from tracengent.platform._console_view import trace_anchor
from tracengent.testing import RunningPlatform

HOSTILE = "<script>window.pwned = 1</script>"


def test_recorded_trace_appears_live_and_expands(
    tracengent_platform: RunningPlatform, page: Page, screenshots: Path
) -> None:
    """A trace the agent records appears without a reload and expands into its tree."""
    page.goto(tracengent_platform.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tracengent local console")
    traces = page.locator("#traces")
    expect(traces).to_contain_text("No decision traces match.")

    client = TracengentClient(tracengent_platform.options(flush_interval_ms=50))
    with client.begin_trace("refund order 42") as trace:
        trace.step(HOSTILE)

        def lookup() -> dict[str, str]:
            trace.track_llm_call(
                "summarise order",
                lambda: LlmCallResult("ok", tokens=90, model="m-2", cost=Money.eur(0.25)),
            )
            return {"order": "42"}

        trace.track_tool_call("lookup-order", lookup)
        client.authorize("payments:refund", {"amount": 100, "currency": "EUR"})
        trace.complete("completed", summary="refunded 100 EUR")
    assert client.close(timeout=10)
    otel_id = trace.trace_id[4:36]

    summary = traces.locator("details.trace > summary")
    expect(summary).to_have_count(1)
    expect(summary).to_contain_text("refund order 42")
    expect(page.locator("#counters")).to_contain_text("demo-agent")
    summary.click()
    body = traces.locator(".trace-body")
    expect(body).to_be_visible()
    expect(body.locator("code.otel")).to_have_text(otel_id)
    rows = body.locator("table.events tbody tr")
    expect(rows.filter(has_text="lookup-order")).to_have_count(1)
    expect(rows.filter(has_text="summarise order")).to_contain_text("90 (m-2)")
    expect(rows.filter(has_text="summarise order").locator("td.tree")).to_have_class(
        re.compile(r"depth-1")
    )
    # The hostile name is text on the page, never markup that ran.
    expect(rows.filter(has_text=HOSTILE)).to_have_count(1)
    assert page.evaluate("typeof window.pwned") == "undefined"
    decisions = body.locator("table.decisions tbody tr")
    expect(decisions).to_have_count(1)
    expect(decisions).to_contain_text("payments:refund")
    page.screenshot(path=str(screenshots / "trace-expanded.png"), full_page=True)

    # A newer trace arrives above it; the one the person expanded stays expanded.
    second = TracengentClient(tracengent_platform.options())
    with second.begin_trace("second request") as later:
        later.step("plan")
        later.complete("failed")
    assert second.close(timeout=10)
    expect(summary).to_have_count(2)
    expect(summary.first).to_contain_text("second request")
    expect(
        traces.locator(f"details#{trace_anchor('demo-agent', trace.trace_id)}")
    ).to_have_attribute("open", "")

    # The status filter keeps only the failed one, in the address too.
    page.get_by_label("Status").select_option("failed")
    expect(summary).to_have_count(1)
    expect(summary).to_contain_text("second request")
    assert "status=failed" in page.url
    page.get_by_label("Status").select_option("")
    expect(summary).to_have_count(2)


@pytest.mark.parametrize("verb", ["Approve", "Deny"])
def test_click_decides_the_approval_an_agent_waits_for(
    tracengent_platform: RunningPlatform, page: Page, screenshots: Path, verb: str
) -> None:
    """An agent blocked on an 800 EUR refund proceeds on Approve and fails on Deny."""
    page.goto(tracengent_platform.url + "/")
    expect(page.locator("#approvals")).to_contain_text("No approvals are waiting.")
    transport = PollSignal()
    client = TracengentClient(
        tracengent_platform.options(approval_poll_interval_s=0.05, approval_timeout_s=60),
        transport=transport,
    )
    outcome: list[object] = []

    def agent() -> None:
        with client.begin_trace("refund order 42") as trace:
            try:
                client.ensure_authorized("payments:refund", {"amount": 800, "currency": "EUR"})
            except NotAuthorizedException as exc:
                outcome.append(exc)
                trace.complete("failed", summary="refund refused")
                return
            trace.track_action("issue-refund", lambda: "ok", cost=Money.eur(800))
            outcome.append("refunded")
            trace.complete("completed", summary="refunded 800 EUR")

    worker = threading.Thread(target=contextvars.copy_context().run, args=(agent,))
    worker.start()
    try:
        assert transport.polled.wait(30)
        row = page.locator("#approvals tbody tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("payments:refund")
        expect(row).to_contain_text("800 EUR")
        expect(row).to_contain_text("demo-agent")
        page.screenshot(path=str(screenshots / f"approval-pending-{verb.lower()}.png"))
        button = page.get_by_role("button", name=f"{verb} payments:refund 800 EUR for demo-agent")
        if verb == "Approve":
            button.click()
        else:
            # Keyboard users decide too: focus the button and press Enter.
            button.focus()
            page.keyboard.press("Enter")
        expect(page.locator("#approvals")).to_contain_text("No approvals are waiting.")
        status = "approved" if verb == "Approve" else "denied"
        expect(page.locator("#decide-result")).to_contain_text(status)
        worker.join(30)
        assert not worker.is_alive()
        assert client.close(timeout=10)
        # The trace it waited in records the decision that asked for the approval.
        summary = page.locator("details.trace > summary")
        expect(summary).to_contain_text("1 decision")
        expect(summary).to_contain_text("completed" if verb == "Approve" else "failed")
        summary.click()
        decision = page.locator("table.decisions tbody tr")
        expect(decision).to_contain_text("pending_approval")
        expect(decision).to_contain_text("over the approval threshold")
        expect(decision.locator("td").nth(4)).to_have_text(status)
        page.screenshot(path=str(screenshots / f"approval-{status}.png"), full_page=True)
    finally:
        client.close(timeout=10)
    (result,) = outcome
    if verb == "Approve":
        assert result == "refunded"
    else:
        assert isinstance(result, NotAuthorizedException)
        assert result.reason == "approval denied"


def test_approval_link_opens_its_own_agents_trace(
    tracengent_platform: RunningPlatform, page: Page
) -> None:
    """Two agents send one traceId: the approval's link opens the asking agent's trace only."""
    store = tracengent_platform.store
    trace_id = "trc_0af7651916cd43dd8448eb211c80319cb7ad6b7169203331"

    def step(agent: str, name: str, in_trace: str = trace_id) -> None:
        body: JsonObject = {
            "eventId": f"evt_{agent}_{name}",
            "traceId": in_trace,
            "type": "action",
            "name": name,
            "status": "success",
            "occurredAt": "2026-11-25T02:00:00.000Z",
        }
        store.ingest_events(agent, [body])

    step("demo-agent", "step of demo-agent")
    store.create_approval(
        agent_id="demo-agent",
        permission="payments:refund",
        context={},
        ttl_seconds=600,
        trace_id=trace_id,
    )
    # The car-agent's trace of the same traceId is newer: first on the page.
    step("car-agent", "step of car-agent")
    page.goto(tracengent_platform.url + "/")
    page.locator("#approvals tbody tr a").click()
    demo = page.locator(f"details#{trace_anchor('demo-agent', trace_id)}")
    car = page.locator(f"details#{trace_anchor('car-agent', trace_id)}")
    expect(demo).to_have_attribute("open", "")
    expect(demo.locator(".trace-body")).to_contain_text("step of demo-agent")
    expect(car).not_to_have_attribute("open", "")
    # A refresh that redraws the traces keeps the demo-agent's trace open, and only it.
    step("car-agent", "another request", in_trace="trc_another")
    expect(page.locator("details.trace")).to_have_count(3)
    expect(demo).to_have_attribute("open", "")
    expect(car).not_to_have_attribute("open", "")


def test_an_api_error_shows_the_servers_detail_as_text(
    tracengent_platform: RunningPlatform, browser_context: BrowserContext, screenshots: Path
) -> None:
    """When the console's API answers an error, the page shows the server's JSON `detail`
    (not only the status), as text: a damaged record (503) while polling, which the page keeps
    retrying until it is repaired, and an unknown approval (404) whose detail looks like HTML."""
    page = browser_context.new_page()
    # The failed requests chromium logs are expected here; nothing else may go wrong.
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))

    def console_error(message: ConsoleMessage) -> None:
        expected = re.search(r"Failed to load resource: .*status of (503|404)", message.text)
        if message.type == "error" and expected is None:
            problems.append(message.text)

    page.on("console", console_error)
    store = tracengent_platform.store
    store.ingest_events(
        "demo-agent",
        [{"eventId": "evt_1", "type": "action", "name": "refund", "status": "success"}],
    )
    page.goto(tracengent_platform.url + "/")
    status = page.locator("#live-status")
    expect(status).to_contain_text("last updated")

    with closing(sqlite3.connect(store.path)) as db, db:
        (original,) = db.execute("SELECT body FROM events").fetchone()
        db.execute("UPDATE events SET body = '{broken'")
    db.close()
    expect(status).to_contain_text(
        "the platform answered HTTP 503: database error: a stored record is not valid JSON"
    )
    expect(status).to_contain_text("retrying")
    page.screenshot(path=str(screenshots / "api-error-detail.png"))
    with closing(sqlite3.connect(store.path)) as db, db:
        db.execute("UPDATE events SET body = ?", (original,))
    db.close()
    expect(status).to_contain_text("last updated")

    # A decision the server refuses: its detail (an id that looks like markup) is text.
    hostile_id = '<img src=x onerror="window.pwned=1">'
    page.evaluate(
        """(approvalId) => {
            const form = document.createElement("form");
            form.className = "decide";
            form.method = "post";
            form.action = "/console/approvals/" + encodeURIComponent(approvalId) + "/approve";
            const button = document.createElement("button");
            button.textContent = "Approve";
            form.append(button);
            document.body.append(form);
            form.requestSubmit(button);
        }""",
        hostile_id,
    )
    result = page.locator("#decide-result")
    expect(result).to_have_text(f"Not decided: HTTP 404: no approval {hostile_id}")
    expect(result.locator("img")).to_have_count(0)
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert problems == []
