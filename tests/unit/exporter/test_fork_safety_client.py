"""After `os.fork()`, a `TracengentClient`'s governance calls and an exporter under any span
processor stop sharing the parent's connections, locks and counters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import httpx
import pytest
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

from opentelemetry.exporter.tracengent.exporter import TracengentSpanExporter
from tests.support.loopback import LoopbackServer, Received, Reply, json_reply, serve
from tracengent import TracengentClient, TracengentOptions

from .conftest import SpanMaker
from .test_fork_safety import Report, accepted, batch_size, event_span, in_child, ingest_key_options


def _allow_naming_the_permission(received: Received) -> Reply:
    permission = cast("dict[str, object]", received.json())["permission"]
    return json_reply({"allowed": True, "status": "allowed", "reason": permission})


@pytest.fixture
def deciding_platform() -> Iterator[LoopbackServer]:
    """Answers `/v1/authorize` with an allow naming the permission asked, on a keep-alive
    loopback server (a pooled connection keeps its client port); stopped after the test."""
    with serve(_allow_naming_the_permission, keep_alive=True) as server:
        yield server


def test_a_forked_child_asks_for_decisions_on_a_connection_of_its_own(
    deciding_platform: LoopbackServer,
) -> None:
    """A client made before the fork (a pre-forking server's workers): the child's decision
    comes on its own connection, so it can never read the parent's answer as its own."""
    client = TracengentClient(
        TracengentOptions(
            agent_id="billing-agent",
            ingest_key="agk_test",
            base_url=deciding_platform.url,
            governance_timeout_s=3.0,
        )
    )
    try:
        assert client.authorize("parent:ask").reason == "parent:ask"

        def scenario() -> Report:
            decision = client.authorize("child:ask")
            return {"reason": decision.reason, "allowed": decision.allowed}

        assert in_child(scenario) == {"reason": "child:ask", "allowed": True}
        ports = {
            cast("dict[str, object]", received.json())["permission"]: received.client_port
            for received in deciding_platform.received
        }
        assert ports["child:ask"] != ports["parent:ask"]
        # The parent's pooled connection still serves the parent.
        assert client.authorize("parent:again").reason == "parent:again"
    finally:
        client.close()


def test_an_exporter_under_otels_batch_processor_resets_in_the_child(
    make_span: SpanMaker,
) -> None:
    """The exporter registers its own fork hook: under OTel's `BatchSpanProcessor` (zero-code
    setups) the child's counters start at zero too."""
    transport = httpx.MockTransport(lambda request: accepted(batch_size(request)))
    exporter = TracengentSpanExporter(ingest_key_options(), transport=transport)
    processor = BatchSpanProcessor(exporter, schedule_delay_millis=60_000)
    try:
        assert exporter.export([event_span(make_span, "parent")]) is SpanExportResult.SUCCESS
        child_span = event_span(make_span, "child")

        def scenario() -> Report:
            before = exporter.stats.delivered
            exporter.export([child_span])
            return {"before": before, "after": exporter.stats.delivered}

        assert in_child(scenario) == {"before": 0, "after": 1}
        assert exporter.stats.delivered == 1
    finally:
        processor.shutdown()  # type: ignore[no-untyped-call]  # untyped in the SDK
