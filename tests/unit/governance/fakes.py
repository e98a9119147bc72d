"""A scripted platform behind `httpx.MockTransport`, and unsigned JWTs, for governance unit tests."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


def make_jwt(claims: dict[str, object]) -> str:
    """An unsigned JWT carrying `claims` (the SDK reads claims without verifying them)."""

    def segment(value: dict[str, object]) -> str:
        raw = json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{segment({'alg': 'none'})}.{segment(claims)}.sig"


def decision(
    status: str = "allowed", *, reason: str = "ok", decision_id: str = "dec_1", **extra: object
) -> httpx.Response:
    """A well-formed `/v1/authorize` answer."""
    body: dict[str, object] = {
        "allowed": status == "allowed",
        "status": status,
        "reason": reason,
        "decisionId": decision_id,
        **extra,
    }
    return httpx.Response(200, json=body)


@dataclass
class FakePlatform:
    """Answers each path from a script (the last answer repeats) and records every request."""

    routes: dict[str, list[Answer]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    permissions: list[str] = field(default_factory=lambda: ["payments:*"])

    def on(self, path: str, *answers: Answer) -> FakePlatform:
        """Script the answers to `path`, in order; the last one repeats."""
        self.routes[path] = list(answers)
        return self

    def handle(self, request: httpx.Request) -> httpx.Response:
        """The MockTransport handler."""
        self.requests.append(request)
        path = request.url.path
        if path == "/v1/oauth/token" and path not in self.routes:
            token = make_jwt({"sub": "demo-agent", "permissions": self.permissions})
            return httpx.Response(
                200, json={"access_token": token, "token_type": "Bearer", "expires_in": 900}
            )
        script = self.routes.get(path)
        if not script:
            return httpx.Response(404, json={"error": "not scripted"})
        answer = script.pop(0) if len(script) > 1 else script[0]
        if callable(answer):
            return answer(request)
        # A fresh response each time: httpx responses are single-use once a client has read them.
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    def bodies(self, path: str) -> list[object]:
        """The JSON bodies received on `path`, in order."""
        return [json.loads(r.content) for r in self.requests if r.url.path == path]

    def calls(self, path: str) -> list[httpx.Request]:
        """The requests received on `path`, in order."""
        return [r for r in self.requests if r.url.path == path]
