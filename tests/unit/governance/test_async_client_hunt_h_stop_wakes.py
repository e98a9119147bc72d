"""`AsyncPlatformClient(stop_event=...)`: setting the event (shutdown, from any thread) ends a
backoff sleep at once, as its docstring says, rather than when the sleep would have ended."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import AsyncPlatformClient

EVENT: JsonObject = {"type": "action", "name": "issue-invoice", "status": "success"}
BACKOFF_S = 30
"""What the platform asks the client to wait (`Retry-After`): far longer than the test waits."""
WATCH_THREAD = "tracengent-stop-watch"


class Busy:
    """An `AsyncPlatformClient` over a platform answering 503 with `Retry-After`."""

    def __init__(self, retry_after_s: int = BACKOFF_S, max_retries: int = 3) -> None:
        self.stop = threading.Event()
        self.sent: list[httpx.Request] = []
        self.first = asyncio.Event()
        self.retry_after_s = retry_after_s
        options = TracengentOptions(agent_id="agent", ingest_key="agk_x", max_retries=max_retries)
        self.client = AsyncPlatformClient(
            options, transport=httpx.MockTransport(self._answer), stop_event=self.stop
        )

    async def _answer(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        self.first.set()
        return httpx.Response(503, headers={"Retry-After": str(self.retry_after_s)})

    def post(self) -> asyncio.Future[object]:
        deadline = time.monotonic() + 3 * BACKOFF_S
        return asyncio.ensure_future(self.client.post_events([EVENT], deadline=deadline))

    async def in_backoff(self) -> None:
        """Until the first attempt was answered and the calls are sleeping."""
        await asyncio.wait_for(self.first.wait(), 10)
        await asyncio.sleep(0.05)


def _reason(result: object) -> str:
    return str(getattr(result, "reason", None))


async def test_setting_the_stop_event_from_another_thread_ends_a_backoff() -> None:
    busy = Busy()
    task = busy.post()
    await busy.in_backoff()
    assert not task.done()
    threading.Thread(target=busy.stop.set).start()
    result = await asyncio.wait_for(task, BACKOFF_S / 3)
    assert (getattr(result, "delivered", None), getattr(result, "failed", None)) == (0, 1)
    assert "shutting down" in _reason(result)
    assert len(busy.sent) == 1
    await busy.client.aclose()


async def test_concurrent_backoffs_all_end_and_a_later_one_does_not_wait() -> None:
    busy = Busy()
    tasks = [busy.post() for _ in range(5)]
    await busy.in_backoff()  # the first backs off; the others are held by its Retry-After
    assert not any(task.done() for task in tasks)
    busy.stop.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks), BACKOFF_S / 3)
    assert all("shutting down" in _reason(result) for result in results)
    later = await asyncio.wait_for(busy.post(), BACKOFF_S / 3)
    assert "shutting down" in _reason(later)
    await busy.client.aclose()


async def test_a_cancelled_backoff_leaves_the_client_usable() -> None:
    busy = Busy()
    task = busy.post()
    await busy.in_backoff()
    task.cancel()
    (cancelled,) = await asyncio.gather(task, return_exceptions=True)
    assert isinstance(cancelled, asyncio.CancelledError)
    again = busy.post()
    await asyncio.sleep(0.05)  # held back by the Retry-After the first call was told
    assert not again.done()
    busy.stop.set()
    result = await asyncio.wait_for(again, BACKOFF_S / 3)
    assert "shutting down" in _reason(result)
    await busy.client.aclose()


async def test_the_watching_thread_ends_with_the_last_backoff() -> None:
    """Backoffs that end on their own leave no thread waiting on the stop event."""
    busy = Busy(retry_after_s=1, max_retries=1)
    result = await busy.post()
    assert "shutting down" not in _reason(result)
    assert len(busy.sent) == 2  # it slept its backoff and retried
    for thread in threading.enumerate():
        if thread.name == WATCH_THREAD:
            await asyncio.to_thread(thread.join, 10)
    assert not [t for t in threading.enumerate() if t.name == WATCH_THREAD]
    await busy.client.aclose()
