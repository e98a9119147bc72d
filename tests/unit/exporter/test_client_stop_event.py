"""`TracengentClient(http=...)`: closing the client wakes the export's retry backoff."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from opentelemetry import trace as otel_trace

from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.wire import AgentEvent
from tracengent import TracengentClient

_WORKER_NAME = "tracengent-span-export"


@pytest.fixture
def no_global_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    """No global SDK provider (OTel's proxy): the client makes a private one."""
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", None)
    monkeypatch.delenv("OTEL_PYTHON_TRACER_PROVIDER", raising=False)


@dataclass
class CallersClient:
    """The caller's `httpx.Client` and when its platform answered the first batch."""

    http: httpx.Client
    answered: threading.Event


@pytest.fixture
def callers_client() -> Iterator[CallersClient]:
    """The first batch is answered 503 with a 20 s `Retry-After`, later ones are accepted."""
    answered = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/events"):
            return httpx.Response(200, json={})
        if not answered.is_set():
            answered.set()
            return httpx.Response(503, headers={"Retry-After": "20"})
        return httpx.Response(200, json={"accepted": 1, "stored": 1, "duplicates": 0})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    yield CallersClient(http, answered)
    http.close()


def test_close_wakes_the_backoff_of_an_export_through_the_callers_client(
    no_global_provider: None, callers_client: CallersClient
) -> None:
    """close() ends a retry wait at once: nothing counted dropped is delivered afterwards."""
    workers_before = set(threading.enumerate())
    client = TracengentClient(
        TracengentOptions(
            agent_id="billing-agent",
            ingest_key="agk_test",
            base_url="http://platform.test",
            flush_interval_ms=10,
        ),
        http=callers_client.http,
    )
    workers = [
        thread
        for thread in threading.enumerate()
        if thread.name == _WORKER_NAME and thread not in workers_before
    ]
    assert len(workers) == 1
    client.record(AgentEvent(name="e", type="action"))
    assert callers_client.answered.wait(5)

    client.close(timeout=0.5)

    # Woken, the worker's export ends and the worker exits; left asleep, it would retry in 20 s
    # and deliver the event already counted `shutdown_timeout`.
    workers[0].join(timeout=5)
    assert not workers[0].is_alive()
    stats = client.delivery_stats
    assert (stats["delivered"], stats["shutdown_timeout"]) == (0, 1)
