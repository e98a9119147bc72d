"""One `Retry-After` holds a platform client back at most `MAX_NOT_BEFORE_S` (review 2).

Before, `Retry-After: 1e12` (a proxy, a maintenance page) stopped governance and telemetry for
the life of the process, and with `tool_governance_fail_open` let every governed request out
unauthorized. Now the client asks again 300 s later at the latest; so does the token provider.
"""

from __future__ import annotations

import httpx
import pytest

from opentelemetry.exporter.tracengent._http_policy import (
    MAX_NOT_BEFORE_S,
    NotBefore,
    TokenUnavailableError,
)
from opentelemetry.exporter.tracengent.errors import PlatformUnavailableError
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.token import AgentTokenProvider
from opentelemetry.exporter.tracengent.transport import PlatformClient
from tests.unit.tools.stubs import ALLOW
from tests.unit.wire.conftest import (
    TOKEN_PATH,
    FakeClock,
    Script,
    credentials_options,
    token_answer,
)

FOREVER = httpx.Response(503, headers={"Retry-After": "1e12"})
HTTP_REQUEST = {"transport": "http", "method": "GET", "host": "h", "path": "/"}


def test_not_before_is_clamped() -> None:
    """A not-before time further than 300 s ahead is brought back to 300 s."""
    not_before = NotBefore()
    not_before.postpone(1000.0 + 1e12, 503, now=1000.0)
    assert not_before.until == 1000.0 + MAX_NOT_BEFORE_S
    assert MAX_NOT_BEFORE_S == 300.0


def test_platform_is_asked_again_after_the_clamp() -> None:
    """After `Retry-After: 1e12`, calls fail unsent for 300 s, then reach the platform again."""
    script = Script().on("/v1/tool-authorize", FOREVER, httpx.Response(200, json=ALLOW))
    clock = FakeClock()

    def sleep(seconds: float) -> bool:
        clock.now += seconds
        return False

    options = TracengentOptions(agent_id="a", ingest_key="agk_x", max_retries=3).validate()
    client = PlatformClient(
        options,
        transport=httpx.MockTransport(script.handle),
        clock=clock,
        jitter=lambda: 0.0,
        sleep=sleep,
    )
    try:
        with pytest.raises(PlatformUnavailableError):
            client.tool_authorize(dict(HTTP_REQUEST), deadline=clock.now + 5)
        clock.now += MAX_NOT_BEFORE_S - 60  # 60 s left: over the 30 s one call waits
        with pytest.raises(PlatformUnavailableError):
            client.tool_authorize(dict(HTTP_REQUEST), deadline=clock.now + 5)
        assert len(script.requests) == 1
        clock.now += 60
        assert client.tool_authorize(dict(HTTP_REQUEST), deadline=clock.now + 5).allowed
        assert len(script.requests) == 2
    finally:
        client.close()


def test_token_provider_backoff_is_clamped() -> None:
    """The token endpoint's `Retry-After: 1e12` holds the provider back 300 s, not for good."""
    script = Script().on(TOKEN_PATH, FOREVER, token_answer())
    clock = FakeClock()
    http = httpx.Client(transport=httpx.MockTransport(script.handle))
    tokens = AgentTokenProvider(credentials_options(), http, clock=clock)
    try:
        with pytest.raises(TokenUnavailableError) as first:
            tokens.get_token(deadline=clock.now + 5)
        assert first.value.retry_in_s == MAX_NOT_BEFORE_S
        clock.now += MAX_NOT_BEFORE_S
        assert tokens.get_token(deadline=clock.now + 5)
        assert len(script.requests) == 2
    finally:
        http.close()
