"""A `Retry-After` the platform gave the parent still holds in a forked child."""

from __future__ import annotations

import os
import time

import httpx

from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import PlatformClient

from .test_fork_safety import Report, in_child


def test_a_forked_child_does_not_send_before_the_parents_retry_after() -> None:
    """The child's platform client keeps the not-before time: it sends nothing for 60 s."""
    posts: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        posts.append(os.getpid())
        return httpx.Response(503, headers={"Retry-After": "60"})

    options = TracengentOptions(agent_id="billing-agent", ingest_key="agk_test")
    platform = PlatformClient(options, transport=httpx.MockTransport(handler))
    first = platform.post_events([{"name": "e"}], deadline=time.monotonic() + 600)
    assert (first.failed, len(posts)) == (1, 1)

    def scenario() -> Report:
        platform.after_fork()
        result = platform.post_events([{"name": "e"}], deadline=time.monotonic() + 600)
        return {"failed": result.failed, "child_posts": posts.count(os.getpid())}

    try:
        assert in_child(scenario) == {"failed": 1, "child_posts": 0}
    finally:
        platform.close()
