"""`close()` is idempotent across threads: a second call made while the first is still flushing
says what the first one found (whether everything was delivered), not a premature False."""

from __future__ import annotations

import threading
import time

import httpx

from tracengent import AgentEvent, TracengentClient
from tracengent.testing import RunningPlatform

_INGEST_DELAY_S = 0.6


class _SlowIngest(httpx.HTTPTransport):
    """The real platform over loopback, each ingest request held a moment before it is sent."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v1/ingest/"):
            time.sleep(_INGEST_DELAY_S)
        return super().handle_request(request)


def test_second_close_during_the_first_reports_the_delivery(
    tracengent_platform: RunningPlatform,
) -> None:
    """Both closes return True once the buffered event reached the platform."""
    client = TracengentClient(tracengent_platform.options(), transport=_SlowIngest())
    client.record(AgentEvent("issue-invoice", "action"))
    results: list[bool] = []
    first = threading.Thread(target=lambda: results.append(client.close()))
    first.start()
    time.sleep(_INGEST_DELAY_S / 3)
    second = client.close()
    first.join()
    assert results == [True]
    assert second is True
    assert [e.body["name"] for e in tracengent_platform.store.events()] == ["issue-invoice"]


def test_second_close_waits_no_longer_than_its_timeout(
    tracengent_platform: RunningPlatform,
) -> None:
    """A second close with a short timeout returns False in time while the first still flushes."""
    client = TracengentClient(tracengent_platform.options(), transport=_SlowIngest())
    client.record(AgentEvent("issue-invoice", "action"))
    first = threading.Thread(target=client.close)
    first.start()
    time.sleep(_INGEST_DELAY_S / 3)
    started = time.monotonic()
    assert client.close(0.05) is False
    assert time.monotonic() - started < _INGEST_DELAY_S / 2
    first.join()
    assert client.flushed is True
