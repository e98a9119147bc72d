"""Fixtures of the wire-layer tests: a scripted platform, a fake clock, sync and async clients."""

from __future__ import annotations

import inspect
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import httpx
import pytest

from conformance.replay import make_jwt
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import AsyncPlatformClient, PlatformClient

TOKEN_PATH = "/v1/oauth/token"
EVENTS_PATH = "/v1/ingest/events"
AUTHORIZE_PATH = "/v1/authorize"
WALL_EPOCH_S = 1_795_515_302.0
"""The injected wall clock: 2026-11-24T10:15:02Z."""

AGENT_TOKEN = make_jwt({"sub": "key_test", "permissions": ["payments:*"]})
EVENT = {"type": "action", "name": "issue-invoice", "status": "success"}
ALLOW = {"allowed": True, "status": "allowed", "reason": "ok", "decisionId": "dec_1"}

Answer: TypeAlias = "httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]"


def credentials_options(**overrides: object) -> TracengentOptions:
    """Valid options with client credentials (Bearer tokens)."""
    values: dict[str, object] = {
        "agent_id": "billing-agent",
        "client_id": "key_test",
        "client_secret": "ags_test",
    }
    values.update(overrides)
    return TracengentOptions(**values)  # type: ignore[arg-type]


def token_answer(token: str = AGENT_TOKEN, expires_in: object = 900) -> httpx.Response:
    """A token endpoint answer."""
    body: dict[str, object] = {"access_token": token, "token_type": "Bearer"}
    if expires_in is not None:
        body["expires_in"] = expires_in
    return httpx.Response(200, json=body)


@dataclass
class Script:
    """A platform answering each path from a script: answers are used in order, the last repeats."""

    answers: dict[str, list[Answer]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, path: str, *answers: Answer) -> Script:
        """Script the answers of `path`."""
        self.answers[path] = list(answers)
        return self

    def to(self, path: str) -> list[httpx.Request]:
        """The requests sent to `path`."""
        return [r for r in self.requests if r.url.path == path]

    def handle(self, request: httpx.Request) -> httpx.Response:
        """The MockTransport handler."""
        request.read()
        self.requests.append(request)
        queue = self.answers.get(request.url.path)
        if queue is None:
            if request.url.path == TOKEN_PATH:
                return token_answer()
            return httpx.Response(404)
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return httpx.Response(
                answer.status_code, headers=answer.headers, content=answer.content
            )
        return answer(request)


class FakeClock:
    """A monotonic clock that only moves when a (fake) sleep moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    """One sync or async platform client with injected clock, sleep and jitter."""

    def __init__(
        self,
        mode: str,
        script: Script | None,
        options: TracengentOptions,
        *,
        bearer_token: str | None = None,
        stop_event: threading.Event | None = None,
    ) -> None:
        self.mode = mode
        self.clock = FakeClock()
        self.sleeps: list[float] = []
        transport = httpx.MockTransport(script.handle) if script is not None else None
        self.client: PlatformClient | AsyncPlatformClient
        common = {"clock": self.clock, "wall_clock": lambda: WALL_EPOCH_S, "jitter": lambda: 0.0}
        if mode == "sync":
            self.client = PlatformClient(
                options,
                transport=transport,
                bearer_token=bearer_token,
                stop_event=stop_event,
                sleep=self._sleep,
                **common,  # type: ignore[arg-type]
            )
        else:
            self.client = AsyncPlatformClient(
                options,
                transport=transport,
                bearer_token=bearer_token,
                stop_event=stop_event,
                sleep=self._async_sleep,
                **common,  # type: ignore[arg-type]
            )

    def _sleep(self, seconds: float) -> bool:
        self.sleeps.append(seconds)
        self.clock.now += seconds
        return False

    async def _async_sleep(self, seconds: float) -> bool:
        return self._sleep(seconds)

    async def call(self, method: str, *args: object, **kwargs: object) -> object:
        """Call `method` on the client, awaiting it in async mode."""
        result = getattr(self.client, method)(*args, **kwargs)
        if inspect.isawaitable(result):
            return await result
        return result

    async def close(self) -> None:
        """Close the client."""
        if isinstance(self.client, PlatformClient):
            self.client.close()
        else:
            await self.client.aclose()


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """Every wire test runs against the blocking and the coroutine client."""
    return str(request.param)


@pytest.fixture
def script() -> Script:
    """A fresh scripted platform (the token endpoint answers a 900 s token by default)."""
    return Script()


HarnessFactory: TypeAlias = Callable[..., Harness]


@pytest.fixture
async def harness(mode: str, script: Script) -> AsyncIterator[HarnessFactory]:
    """Builds harnesses over `script` in the current mode; closes them afterwards."""
    made: list[Harness] = []

    def build(options: TracengentOptions | None = None, **kwargs: object) -> Harness:
        made.append(Harness(mode, script, options or credentials_options(), **kwargs))  # type: ignore[arg-type]
        return made[-1]

    yield build
    for item in made:
        await item.close()


def paths(requests: Sequence[httpx.Request]) -> list[str]:
    """The paths of `requests`, in order."""
    return [r.url.path for r in requests]
