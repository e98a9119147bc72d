"""The platform clients `mcp_hooks` makes itself (zero code) reset in a forked child: on the
parent's kept-alive sockets a child's tool-authorize could read the parent's decision."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from opentelemetry.sdk.trace import TracerProvider

from opentelemetry.exporter.tracengent import transport
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import AsyncPlatformClient, PlatformClient
from tests.unit.exporter.test_fork_safety import in_child
from tracengent import _mcp

_OPTIONS = TracengentOptions(agent_id="a", base_url="http://127.0.0.1:9", ingest_key="agk_x")


def test_made_platform_clients_reset_in_a_forked_child() -> None:
    """In the child, both clients `mcp_hooks` made have run their `after_fork`."""
    made: list[object] = []
    real_sync, real_async = PlatformClient.__init__, AsyncPlatformClient.__init__

    def remember_sync(self: PlatformClient, *args: object, **kwargs: object) -> None:
        real_sync(self, *args, **kwargs)  # type: ignore[arg-type]
        made.append(self)

    def remember_async(self: AsyncPlatformClient, *args: object, **kwargs: object) -> None:
        real_async(self, *args, **kwargs)  # type: ignore[arg-type]
        made.append(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PlatformClient, "__init__", remember_sync)
        patch.setattr(AsyncPlatformClient, "__init__", remember_async)
        hooks = _mcp.mcp_hooks(_OPTIONS, tracer=TracerProvider().get_tracer("t"))
    assert hooks.gate is not None
    assert {type(client) for client in made} == {PlatformClient, AsyncPlatformClient}

    def scenario() -> dict[str, object]:
        # `after_fork` records the process it ran in: the child's pid once it ran there.
        return {"reset": [getattr(client, "_pid", None) == os.getpid() for client in made]}

    assert in_child(scenario) == {"reset": [True, True]}


def test_given_platform_clients_are_left_to_their_owner(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients passed in are their owner's to reset: no hook is added for them."""
    registered: list[object] = []

    def record(target: object, **hooks: Callable[[object], None]) -> None:
        registered.append(target)

    monkeypatch.setattr(transport, "at_fork", record)
    platform, async_platform = PlatformClient(_OPTIONS), AsyncPlatformClient(_OPTIONS)
    _mcp.mcp_hooks(
        _OPTIONS,
        tracer=TracerProvider().get_tracer("t"),
        platform=platform,
        async_platform=async_platform,
    )
    assert registered == []
    platform.close()
