"""Review 3: fail-open never opens on a 429.

A 429 is the platform answering, and throttling this agent: the platform is not unavailable. The
README's fault table puts it with "401, 403, other 4xx": `ToolDeniedException` even with
`tool_governance_fail_open`, so an agent that floods the platform into throttling it does not
egress unauthorized. Only unreachable, timed out and 5xx open.
"""

from __future__ import annotations

import httpx
import pytest

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from tests.unit.tools.test_gates_over_platform_client import Gates, _refund


def _throttled(headers: dict[str, str]) -> Gates:
    return Gates(
        lambda _: httpx.Response(429, headers=headers, content=b'{"error":"slow down"}'),
        fail_open=True,
    )


@pytest.mark.parametrize("headers", [{}, {"Retry-After": "3600"}], ids=["plain", "retry-after"])
async def test_a_throttling_platform_does_not_fail_open(mode: str, headers: dict[str, str]) -> None:
    gates = _throttled(headers)
    with pytest.raises(ToolDeniedException) as denied:
        await gates.check(mode, _refund())
    assert denied.value.outcome == "platform_unavailable"
    assert gates.egress.fail_open_count == 0


async def test_the_call_held_back_by_a_retry_after_does_not_fail_open(mode: str) -> None:
    """After a 429 asked for an hour's pause, the next call is not even sent: still no opening."""
    gates = _throttled({"Retry-After": "3600"})
    with pytest.raises(ToolDeniedException):
        await gates.check(mode, _refund())
    sent = len(gates.seen)
    with pytest.raises(ToolDeniedException):
        await gates.check(mode, _refund())
    assert len(gates.seen) == sent
    assert gates.egress.fail_open_count == 0


async def test_a_5xx_still_fails_open(mode: str) -> None:
    gates = Gates(lambda _: httpx.Response(503, content=b"{}"), fail_open=True)
    request = _refund()
    assert await gates.check(mode, request) is request
    assert gates.egress.fail_open_count == 1
