"""`has_permission_async`: the token-local check's coroutine twin, which never blocks the loop.

`has_permission` fetches a token when none is cached, with a blocking HTTP call: on an event
loop that stalled every other task for up to `governance_timeout_s`.
"""

from __future__ import annotations

import asyncio

import httpx

from tracengent import TracengentClient, TracengentOptions

from .conftest import make_options
from .fakes import make_jwt

TOKEN_PATH = "/v1/oauth/token"


def _token_answer(permissions: list[str]) -> httpx.Response:
    token = make_jwt({"sub": "demo-agent", "permissions": permissions})
    return httpx.Response(
        200, json={"access_token": token, "token_type": "Bearer", "expires_in": 900}
    )


class GatedTokenEndpoint:
    """An async platform whose token endpoint answers only once `release` is set."""

    def __init__(self, answer: httpx.Response | None) -> None:
        self.release = asyncio.Event()
        self.asked = asyncio.Event()
        self.answer = answer
        self.token_calls = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == TOKEN_PATH:
            self.token_calls += 1
            self.asked.set()
            await self.release.wait()
            if self.answer is None:
                return httpx.Response(500)
            return httpx.Response(
                self.answer.status_code, headers=self.answer.headers, content=self.answer.content
            )
        return httpx.Response(200, json={})


def _client(endpoint: GatedTokenEndpoint, options: TracengentOptions) -> TracengentClient:
    return TracengentClient(options, transport=httpx.MockTransport(endpoint.handle))


async def test_the_token_fetch_is_awaited_while_other_tasks_run() -> None:
    """While the token is fetched the loop runs other tasks (here: the one releasing the answer),
    and the fetched token's `permissions` claim decides."""
    endpoint = GatedTokenEndpoint(_token_answer(["payments:*"]))
    client = _client(endpoint, make_options())

    async def release_once_asked() -> None:
        await endpoint.asked.wait()
        endpoint.release.set()

    try:
        releaser = asyncio.create_task(release_once_asked())
        granted = await client.has_permission_async("payments:refund")
        await releaser
        assert granted is True
        assert await client.has_permission_async("hotels:book") is False
        assert endpoint.token_calls == 1  # the second check read the cached token
    finally:
        await client.aclose()


async def test_a_stalled_token_endpoint_is_no_permission_within_the_deadline() -> None:
    """A token endpoint that never answers: False once `governance_timeout_s` has passed."""
    endpoint = GatedTokenEndpoint(_token_answer(["*"]))
    client = _client(endpoint, make_options(governance_timeout_s=0.2))
    try:
        assert await client.has_permission_async("payments:refund") is False
        assert endpoint.token_calls == 1
    finally:
        endpoint.release.set()
        await client.aclose()


async def test_no_token_and_an_ingest_key_are_no_permission() -> None:
    """A failing token endpoint, and an ingest key (no token at all), answer False."""
    failing = GatedTokenEndpoint(None)
    failing.release.set()
    client = _client(failing, make_options())
    ingest = TracengentClient(
        TracengentOptions(agent_id="a", ingest_key="agk_x", base_url="http://platform.test"),
        transport=httpx.MockTransport(failing.handle),
    )
    try:
        assert await client.has_permission_async("payments:refund") is False
        assert await ingest.has_permission_async("payments:refund") is False
    finally:
        await client.aclose()
        await ingest.aclose()
