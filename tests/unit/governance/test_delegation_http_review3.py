"""A delegated session posts through the client's own `http=` client (review 3).

`TracengentClient(options, http=my_client)` (custom TLS, a proxy, event hooks) was ignored by
`begin_delegated_task`: its sync calls made a fresh `httpx.Client` with default settings, so
behind a corporate CA or proxy every delegated decision failed (a deny). They now go through
`my_client`, with the delegated token as the bearer.
"""

from __future__ import annotations

import httpx

from opentelemetry.exporter.tracengent.options import TracengentOptions
from tracengent import TracengentClient

ALLOW = {"allowed": True, "status": "allowed", "reason": "ok", "decisionId": "dec_1"}


def test_delegated_calls_use_the_given_http_client() -> None:
    seen: list[httpx.Request] = []

    def platform(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ALLOW)

    hooked: list[str] = []
    mine = httpx.Client(
        transport=httpx.MockTransport(platform),
        event_hooks={"request": [lambda request: hooked.append(request.url.path)]},
    )
    options = TracengentOptions(agent_id="hotel-agent", ingest_key="agk_hotel")
    client = TracengentClient(options, http=mine)
    try:
        decision = client.begin_delegated_task("delegated.jwt.token").authorize("hotels:book")
        assert decision.allowed
        assert hooked == ["/v1/authorize"]
        (request,) = seen
        assert request.headers["authorization"] == "Bearer delegated.jwt.token"
        assert "x-ingest-key" not in request.headers
    finally:
        client.close(timeout=1.0)
        mine.close()
