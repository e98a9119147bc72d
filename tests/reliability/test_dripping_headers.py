"""A platform (or a proxy) that drips its status line and headers a byte at a time: every read is
quick, so a read timeout alone never fires, and the drip lasts about 20 times the call's bound.
A sync call must give up by its deadline while the headers are still arriving, not once they are
whole (the body's bound alone would then deny, but far too late)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from opentelemetry.exporter.tracengent.errors import PlatformUnavailableError
from opentelemetry.exporter.tracengent.transport import PlatformClient
from tests.support.chaos import EVENTS_PATH, TOKEN_PATH, ChaosServer, Drip, make_jwt, sequence
from tracengent import TracengentClient

from .conftest import chaos_options

ALLOW = {"allowed": True, "status": "allowed", "reason": "ok", "decisionId": "dec_drip"}
# About 100 bytes of status line and headers at 0.1 s each: 10 s of head against a 0.5 s bound.
INTERVAL_S = 0.1
TIMEOUT_S = 0.5


def _head_drip(chaos: ChaosServer, path: str, body: object) -> Drip:
    drip = Drip(body, INTERVAL_S, head=True)
    assert len(drip.head_bytes()) * INTERVAL_S >= 20 * TIMEOUT_S
    chaos.on(path, sequence(drip))
    return drip


def _cut_in_the_head(drip: Drip) -> None:
    """The client hung up while the headers were still being dripped (a write or two may
    follow the hang-up before the server notices)."""
    assert 0 < drip.written < len(drip.head_bytes())
    assert not drip.finished.is_set()


def test_an_authorization_whose_headers_are_dripped_is_denied_by_its_deadline(
    chaos: ChaosServer,
) -> None:
    """The allow's headers would take about 20 times `governance_timeout_s`: the call denies
    (fail closed, a timeout) while they are still arriving."""
    drip = _head_drip(chaos, "/v1/authorize", ALLOW)
    with TracengentClient(chaos_options(chaos.url, governance_timeout_s=TIMEOUT_S)) as client:
        decision = client.authorize("payments:refund")
        _cut_in_the_head(drip)
    assert decision.allowed is False
    assert decision.reason == "platform timed out"


@pytest.mark.parametrize(
    ("path", "call"),
    [
        ("/v1/tool-authorize", lambda p: p.tool_authorize({"transport": "http"})),
        ("/v1/approvals/apr_1", lambda p: p.approval_status("apr_1")),
    ],
    ids=["tool-authorize", "approval-poll"],
)
def test_other_governance_calls_with_dripped_headers_time_out_by_their_deadline(
    chaos: ChaosServer, path: str, call: Callable[[PlatformClient], object]
) -> None:
    """A tool authorization and an approval poll raise the unavailable platform's error (which
    governance turns into a deny) while the headers are still arriving."""
    body = ALLOW if "authorize" in path else {"status": "approved"}
    drip = _head_drip(chaos, path, body)
    platform = PlatformClient(chaos_options(chaos.url, governance_timeout_s=TIMEOUT_S))
    try:
        with pytest.raises(PlatformUnavailableError, match="ReadTimeout"):
            call(platform)
        _cut_in_the_head(drip)
    finally:
        platform.close()


def test_an_ingest_answer_with_dripped_headers_does_not_hold_delivery(chaos: ChaosServer) -> None:
    """The worker's request gives up at `request_timeout_s` while the headers are arriving, and
    its retry delivers the events."""
    drip = _head_drip(chaos, EVENTS_PATH, {"accepted": 1, "stored": 1, "duplicates": 0})
    with TracengentClient(chaos_options(chaos.url, request_timeout_s=TIMEOUT_S)) as client:
        with client.begin_trace("drip") as trace:
            trace.step("one")
        assert client.force_flush(timeout=30.0) is True
        _cut_in_the_head(drip)
    assert [event["name"] for event in chaos.acknowledged_events()] == ["one"]
    assert len(chaos.to(EVENTS_PATH)) == 2


def test_a_token_answer_with_dripped_headers_denies_by_the_deadline(chaos: ChaosServer) -> None:
    """The token the authorization needs has its headers dripped: the fetch gives up within
    the call's bound and the call denies without asking."""
    token = {"access_token": make_jwt({"sub": "chaos-agent"}), "token_type": "Bearer"}
    drip = _head_drip(chaos, TOKEN_PATH, token)
    with TracengentClient(chaos_options(chaos.url, governance_timeout_s=TIMEOUT_S)) as client:
        decision = client.authorize("payments:refund")
        _cut_in_the_head(drip)
    assert decision.allowed is False
    assert chaos.to("/v1/authorize") == []
