"""After `os.fork()`, a `TracengentClient`'s governance calls and an exporter under any span
processor stop sharing the parent's connections, locks and counters."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast

import httpx
import pytest
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

from opentelemetry.exporter.tracengent.exporter import TracengentSpanExporter
from tracengent import TracengentClient, TracengentOptions

from .conftest import SpanMaker
from .test_fork_safety import Report, accepted, batch_size, event_span, in_child, ingest_key_options

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() is POSIX-only")


class _DecidingPlatform(ThreadingHTTPServer):
    """Answers `/v1/authorize` with an allow naming the permission asked, and records which
    client port asked (keep-alive: a pooled connection keeps its port)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _AuthorizeHandler)
        self.asked: list[tuple[int, str]] = []

    @property
    def url(self) -> str:
        """The base URL to configure."""
        return f"http://127.0.0.1:{self.server_address[1]}"


class _AuthorizeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        permission = str(json.loads(body).get("permission")) if body else ""
        cast(_DecidingPlatform, self.server).asked.append((self.client_address[1], permission))
        answer = json.dumps(
            {"allowed": True, "status": "allowed", "reason": permission, "decisionId": "d"}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads `asked`."""


@pytest.fixture
def deciding_platform() -> Iterator[_DecidingPlatform]:
    """A tiny authorize server on a free loopback port, stopped after the test."""
    server = _DecidingPlatform()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_forked_child_asks_for_decisions_on_a_connection_of_its_own(
    deciding_platform: _DecidingPlatform,
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
        ports = {permission: port for port, permission in deciding_platform.asked}
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
