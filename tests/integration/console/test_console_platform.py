"""The console of a running local platform releases or refuses an agent waiting on approval."""

from __future__ import annotations

import contextvars
import threading

import httpx
import pytest

from tests.integration.console.conftest import csrf_token
from tests.integration.governance.conftest import PollSignal
from tracengent import NotAuthorizedException, TracengentClient
from tracengent.testing import RunningPlatform


@pytest.mark.parametrize("verb", ["approve", "deny"])
def test_console_decision_releases_the_waiting_agent(
    tracengent_platform: RunningPlatform, verb: str
) -> None:
    """An agent blocked in `ensure_authorized` for 800 EUR proceeds on approve, fails on deny."""
    options = tracengent_platform.options(approval_poll_interval_s=0.05, approval_timeout_s=60)
    outcome: list[object] = []
    transport = PollSignal()
    client = TracengentClient(options, transport=transport)

    def agent() -> None:
        with client.begin_trace("refund order 42") as trace:
            try:
                client.ensure_authorized("payments:refund", {"amount": 800, "currency": "EUR"})
                outcome.append("refunded")
            except NotAuthorizedException as exc:
                outcome.append(exc)
            trace.complete("completed")

    worker = threading.Thread(target=contextvars.copy_context().run, args=(agent,))
    worker.start()
    try:
        with httpx.Client(base_url=tracengent_platform.url, timeout=10) as browser:
            # The agent polls only once the platform answered "pending": the approval exists.
            assert transport.polled.wait(30)
            page = browser.get("/").text
            (pending,) = browser.get("/console/api/state").json()["approvals"]
            assert (pending["amount"], pending["currency"]) == (800, "EUR")
            approval_id = pending["approvalId"]
            token = csrf_token(page)
            answer = browser.post(
                f"/console/approvals/{approval_id}/{verb}",
                data={"csrf_token": token},
                headers={"Accept": "application/json"},
            )
            assert answer.status_code == 200, answer.text
        worker.join(30)
        assert not worker.is_alive()
    finally:
        client.close(timeout=10)
    (result,) = outcome
    if verb == "approve":
        assert result == "refunded"
    else:
        assert isinstance(result, NotAuthorizedException)
        assert result.reason == "approval denied"
