"""Review 2, against the real local platform: a flights search (GET `/v1/flights*` routed) whose
path climbs into `/v1/admin/` with encoded dots or slashes is denied as ambiguous, unsent, and
the platform is never told a path the server would not route."""

from __future__ import annotations

import pytest

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from tracengent import TracengentClient
from tracengent.testing import RunningPlatform

from .test_egress_review import ToolServer, _send, client, tool_server

__all__ = ["client", "tool_server"]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    "path",
    ["/v1/admin/%2e%2e/%2e%2e/v1/flights", "/v1/admin/x%2F..%2F..%2F..%2Fv1%2Fflights"],
)
async def test_admin_path_dressed_as_flights_is_denied(
    tracengent_platform: RunningPlatform,
    client: TracengentClient,
    tool_server: ToolServer,
    mode: str,
    path: str,
) -> None:
    """Denied (`path_ambiguous`); no decision stored, nothing reaches the tool server."""
    with pytest.raises(ToolDeniedException) as caught:
        await _send(mode, client, tool_server, "GET", "http://api.example.com" + path)
    assert caught.value.outcome == "path_ambiguous"
    assert tool_server.received == []
    assert tracengent_platform.store.decisions() == []
