"""Two agents that send the same `traceId` have two traces on the console, each its own anchor."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from tests.integration.console.conftest import TRACE_ID, event
from tracengent.platform import PlatformStore

AGENTS = ("demo-agent", "car-agent")


def _traces_by_id(traces_html: str) -> dict[str, str]:
    """Each `<details class="trace">` of the traces fragment by its HTML id (ids must be unique)."""
    blocks = re.findall(r'(<details class="trace" id="([^"]*)".*?</details>)', traces_html, re.S)
    ids = [anchor for _block, anchor in blocks]
    assert len(ids) == len(set(ids)), f"duplicate trace anchors {ids}"
    return {anchor: block for block, anchor in blocks}


def test_an_approval_links_the_trace_of_its_own_agent(
    console: TestClient, store: PlatformStore
) -> None:
    """The link from each agent's approval opens that agent's trace, not the other's."""
    approvals = {}
    for agent in AGENTS:
        store.ingest_events(agent, [event(f"evt_{agent}", f"step of {agent}", agentId=agent)])
        approvals[agent] = store.create_approval(
            agent_id=agent,
            permission="payments:refund",
            context={},
            ttl_seconds=600,
            trace_id=TRACE_ID,
        )
    fragments = console.get("/console/api/fragments").json()
    traces = _traces_by_id(fragments["traces"])
    assert len(traces) == 2
    for agent, approval in approvals.items():
        row = re.search(
            rf'<tr data-approval-id="{approval.approval_id}">.*?</tr>', fragments["approvals"], re.S
        )
        assert row is not None
        link = re.search(r'<a href="#([^"]+)">', row.group(0))
        assert link is not None
        linked = traces[link.group(1)]
        assert f'<span class="agent">{agent}</span>' in linked
        assert f"step of {agent}" in linked


def test_the_state_names_each_trace_by_agent_and_trace(
    console: TestClient, store: PlatformStore
) -> None:
    """The JSON state gives each trace an anchor of its own, and an approval its trace's."""
    for agent in AGENTS:
        store.ingest_events(agent, [event(f"evt_{agent}", "step", agentId=agent)])
    store.create_approval(
        agent_id="car-agent",
        permission="payments:refund",
        context={},
        ttl_seconds=600,
        trace_id=TRACE_ID,
    )
    state = console.get("/console/api/state").json()
    anchors = {t["agentId"]: t["anchor"] for t in state["traces"]}
    assert len(set(anchors.values())) == 2
    (approval,) = state["approvals"]
    assert approval["traceAnchor"] == anchors["car-agent"]
