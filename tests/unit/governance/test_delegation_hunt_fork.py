"""After `os.fork()`, a delegated session made before it stops sharing the parent's connections.

A session is a pair of platform clients of its own (its bearer is the delegated token): before,
nothing reset them in a forked child (a pre-forking server's worker, a `multiprocessing` worker
made by fork), so parent and child asked for decisions on one kept-alive socket and each could
read the other's answer as its own.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import cast

import pytest

from tests.support.loopback import LoopbackServer, Received, Reply, json_reply, serve
from tests.unit.exporter.test_fork_safety import Report, in_child
from tracengent import TracengentClient, TracengentOptions


def _allow_naming_the_permission(received: Received) -> Reply:
    permission = cast("dict[str, object]", received.json())["permission"]
    return json_reply({"allowed": True, "status": "allowed", "reason": permission})


@pytest.fixture
def deciding_platform() -> Iterator[LoopbackServer]:
    """Answers `/v1/authorize` with an allow naming the permission asked, on a keep-alive
    loopback server (a pooled connection keeps its client port); stopped after the test."""
    with serve(_allow_naming_the_permission, keep_alive=True) as server:
        yield server


def _delegated_token() -> str:
    claims = {"sub": "hotel-agent", "grant_id": "dlg_1", "acting_for": "demo-agent"}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln"


def _ports(server: LoopbackServer) -> dict[object, int]:
    return {
        cast("dict[str, object]", received.json())["permission"]: received.client_port
        for received in server.received
    }


def test_a_forked_child_asks_under_the_delegated_token_on_a_connection_of_its_own(
    deciding_platform: LoopbackServer,
) -> None:
    """A session made before the fork: the child's decision comes on its own connection."""
    options = TracengentOptions(
        agent_id="hotel-agent",
        client_id="key_hotel",
        client_secret="ags_hotel",
        base_url=deciding_platform.url,
        governance_timeout_s=3.0,
    )
    client = TracengentClient(options)
    session = client.begin_delegated_task(_delegated_token())
    try:
        assert session.authorize("parent:ask").reason == "parent:ask"

        def scenario() -> Report:
            decision = session.authorize("child:ask")
            return {"reason": decision.reason, "allowed": decision.allowed}

        assert in_child(scenario) == {"reason": "child:ask", "allowed": True}
        ports = _ports(deciding_platform)
        assert ports["child:ask"] != ports["parent:ask"]
        # The parent's pooled connection still serves the parent.
        assert session.authorize("parent:again").reason == "parent:again"
        assert _ports(deciding_platform)["parent:again"] == ports["parent:ask"]
    finally:
        session.close()
        client.close()
