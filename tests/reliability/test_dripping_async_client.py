"""`AsyncPlatformClient` against a platform (or proxy) that drips its answer a byte at a time:
every read is quick, so a read timeout alone never fires. The sync client ends the whole
exchange by the call's deadline; the coroutine twin waited for the whole drip (about 20 times
the bound) and returned the allow it carried long after its deadline. It now ends each exchange
by the step's bound, as a timeout (retried within the call's budget, then unavailable)."""

from __future__ import annotations

import time

import pytest

from opentelemetry.exporter.tracengent.errors import PlatformUnavailableError
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import AsyncPlatformClient
from tests.support.chaos import EVENTS_PATH, ChaosServer, Drip, sequence

ALLOW = {"allowed": True, "status": "allowed", "reason": "ok", "decisionId": "dec_drip"}
INTERVAL_S = 0.1
TIMEOUT_S = 0.5
EVENT: JsonObject = {"type": "action", "name": "a", "status": "success"}


def _options(url: str) -> TracengentOptions:
    return TracengentOptions(
        agent_id="chaos-agent",
        base_url=url,
        ingest_key="agk_chaos",
        governance_timeout_s=TIMEOUT_S,
        request_timeout_s=TIMEOUT_S,
        max_retries=0,
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("head", [True, False], ids=["head", "body"])
async def test_a_dripped_governance_answer_ends_by_the_deadline(
    chaos: ChaosServer, head: bool
) -> None:
    """Headers or body dripped over at least 15 times the deadline: the call fails as a timeout
    (a deny upstream) while the answer is still arriving, never with the late allow."""
    drip = Drip(ALLOW, INTERVAL_S, head=head)
    assert len(drip.dripped()) * INTERVAL_S >= 15 * TIMEOUT_S
    chaos.on("/v1/authorize", sequence(drip))
    platform = AsyncPlatformClient(_options(chaos.url))
    try:
        with pytest.raises(PlatformUnavailableError, match="Timeout"):
            await platform.authorize({"permission": "payments:refund"})
    finally:
        await platform.aclose()
    assert 0 < drip.written < len(drip.dripped())
    assert not drip.finished.is_set()


@pytest.mark.asyncio
async def test_a_dripped_ingest_answer_is_retried_then_delivered(chaos: ChaosServer) -> None:
    """An ingest answer dripped past `request_timeout_s` is a timeout, retried within the
    call's budget: the next, prompt answer delivers the batch."""
    drip = Drip({"accepted": 1}, INTERVAL_S, head=True)
    chaos.on(EVENTS_PATH, sequence(drip))
    options = _options(chaos.url)
    options.max_retries = 1
    platform = AsyncPlatformClient(options)
    try:
        result = await platform.post_events([EVENT], deadline=time.monotonic() + 10.0)
    finally:
        await platform.aclose()
    assert (result.delivered, result.failed) == (1, 0)
    assert len(chaos.to(EVENTS_PATH)) == 2
    assert not drip.finished.is_set()
