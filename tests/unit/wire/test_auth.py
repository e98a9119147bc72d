"""Credentials, the token cache and its refresh, 401 handling and a disabled agent (sync and async)."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from conformance.replay import make_jwt
from opentelemetry.exporter.tracengent._http_policy import AGENT_DISABLED
from opentelemetry.exporter.tracengent.errors import (
    AgentDisabledError,
    PlatformRejectedError,
    PlatformUnavailableError,
)
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.token import AgentTokenProvider
from opentelemetry.exporter.tracengent.transport import (
    AsyncPlatformClient,
    DeliveryResult,
    PlatformClient,
)

from .conftest import (
    AGENT_TOKEN,
    ALLOW,
    AUTHORIZE_PATH,
    EVENT,
    EVENTS_PATH,
    TOKEN_PATH,
    FakeClock,
    HarnessFactory,
    Script,
    credentials_options,
    paths,
    token_answer,
)

PERMISSION = {"permission": "payments:refund"}
TOKEN_A = make_jwt({"sub": "a", "permissions": ["payments:*"], "exp": 2_000_000_000})
TOKEN_B = make_jwt({"sub": "b", "permissions": "invoices:read"})


async def test_ingest_key_is_sent_without_any_token_call(
    script: Script, harness: HarnessFactory
) -> None:
    """Without client credentials the org key goes in `X-Ingest-Key` and no token is fetched."""
    script.on(EVENTS_PATH, httpx.Response(202))
    h = harness(TracengentOptions(agent_id="billing-agent", ingest_key="agk_test"))
    await h.call("post_events", [EVENT])
    (request,) = script.requests
    assert request.headers["x-ingest-key"] == "agk_test"
    assert "authorization" not in request.headers
    assert h.client.token_provider is None


async def test_token_is_fetched_once_and_reused(script: Script, harness: HarnessFactory) -> None:
    """Several calls within the token's life share one token fetch."""
    script.on(AUTHORIZE_PATH, httpx.Response(200, json=ALLOW))
    h = harness()
    for _ in range(3):
        await h.call("authorize", PERMISSION)
    assert paths(script.requests) == [TOKEN_PATH] + [AUTHORIZE_PATH] * 3
    assert script.requests[1].headers["authorization"] == f"Bearer {AGENT_TOKEN}"


async def test_token_is_refreshed_60_seconds_before_expiry(
    script: Script, harness: HarnessFactory
) -> None:
    """A 900 s token is reused until 840 s, then replaced by a fresh one."""
    script.on(TOKEN_PATH, token_answer(TOKEN_A, 900), token_answer(TOKEN_B, 900))
    script.on(AUTHORIZE_PATH, httpx.Response(200, json=ALLOW))
    h = harness()
    await h.call("authorize", PERMISSION)
    h.clock.now += 839
    await h.call("authorize", PERMISSION)
    assert len(script.to(TOKEN_PATH)) == 1
    h.clock.now += 2
    await h.call("authorize", PERMISSION)
    assert len(script.to(TOKEN_PATH)) == 2
    assert script.to(AUTHORIZE_PATH)[-1].headers["authorization"] == f"Bearer {TOKEN_B}"


async def test_token_without_exp_or_expires_in_lives_900_seconds(
    script: Script, harness: HarnessFactory
) -> None:
    """A token with no `exp` claim and no `expires_in` is assumed to live 900 s."""
    script.on(TOKEN_PATH, token_answer(TOKEN_B, None))
    script.on(AUTHORIZE_PATH, httpx.Response(200, json=ALLOW))
    h = harness()
    await h.call("authorize", PERMISSION)
    h.clock.now += 839
    await h.call("authorize", PERMISSION)
    assert len(script.to(TOKEN_PATH)) == 1
    provider = h.client.token_provider
    assert provider is not None
    assert provider.cached_permissions == ("invoices:read",)
    h.clock.now += 2
    await h.call("authorize", PERMISSION)
    assert len(script.to(TOKEN_PATH)) == 2


async def test_short_lived_token_is_reused_for_half_its_life(
    script: Script, harness: HarnessFactory
) -> None:
    """`expires_in: 20` must not make every call fetch a token: it is reused for 10 s."""
    script.on(TOKEN_PATH, token_answer(AGENT_TOKEN, 20))
    script.on(AUTHORIZE_PATH, httpx.Response(200, json=ALLOW))
    h = harness()
    for _ in range(3):
        await h.call("authorize", PERMISSION)
    h.clock.now += 9
    await h.call("authorize", PERMISSION)
    assert len(script.to(TOKEN_PATH)) == 1
    h.clock.now += 2
    await h.call("authorize", PERMISSION)
    assert len(script.to(TOKEN_PATH)) == 2


async def test_401_once_refetches_the_token_and_retries_once(
    script: Script, harness: HarnessFactory
) -> None:
    """A 401 drops the token, fetches a new one, and the retried call carries it."""
    script.on(TOKEN_PATH, token_answer(TOKEN_A), token_answer(TOKEN_B))
    script.on(AUTHORIZE_PATH, httpx.Response(401), httpx.Response(200, json=ALLOW))
    h = harness()
    decision = await h.call("authorize", PERMISSION)
    assert getattr(decision, "allowed", None) is True
    assert paths(script.requests) == [TOKEN_PATH, AUTHORIZE_PATH, TOKEN_PATH, AUTHORIZE_PATH]
    auth = [r.headers["authorization"] for r in script.to(AUTHORIZE_PATH)]
    assert auth == [f"Bearer {TOKEN_A}", f"Bearer {TOKEN_B}"]


async def test_second_401_is_a_rejection(script: Script, harness: HarnessFactory) -> None:
    """A 401 after the refresh raises `PlatformRejectedError(401)`; no third attempt."""
    script.on(AUTHORIZE_PATH, httpx.Response(401))
    h = harness()
    with pytest.raises(PlatformRejectedError) as caught:
        await h.call("authorize", PERMISSION)
    assert caught.value.status_code == 401
    assert len(script.to(AUTHORIZE_PATH)) == 2
    assert len(script.to(TOKEN_PATH)) == 2


async def test_token_endpoint_401_disables_quietly(script: Script, harness: HarnessFactory) -> None:
    """A 401 from the token endpoint disables the agent: no more token calls, telemetry dropped."""
    script.on(TOKEN_PATH, httpx.Response(401))
    h = harness()
    with pytest.raises(AgentDisabledError):
        await h.call("authorize", PERMISSION)
    provider = h.client.token_provider
    assert provider is not None
    assert provider.disabled
    with pytest.raises(AgentDisabledError):
        await h.call("tool_authorize", {"transport": "mcp", "toolName": "t"})
    result = await h.call("post_events", [EVENT])
    assert result == DeliveryResult(0, 0, 1, AGENT_DISABLED, None)
    h.clock.now += 3600
    with pytest.raises(AgentDisabledError):
        await h.call("authorize", PERMISSION)
    assert paths(script.requests) == [TOKEN_PATH]


async def test_token_endpoint_503_backs_off_instead_of_spinning(
    script: Script, harness: HarnessFactory
) -> None:
    """After a 503 the token endpoint is not asked again until the backoff has passed: calls
    whose deadline comes first fail without asking it."""
    script.on(TOKEN_PATH, httpx.Response(503), token_answer())
    script.on(AUTHORIZE_PATH, httpx.Response(200, json=ALLOW))
    h = harness()
    for _ in range(3):
        with pytest.raises(PlatformUnavailableError):
            await h.call("authorize", PERMISSION, deadline=h.clock() + 0.5)
    assert len(script.to(TOKEN_PATH)) == 1
    result = await h.call("post_events", [EVENT], deadline=h.clock() + 0.5)
    assert isinstance(result, DeliveryResult)
    assert result.failed == 1
    assert h.sleeps == []
    h.clock.now += 1.0
    decision = await h.call("authorize", PERMISSION)
    assert getattr(decision, "allowed", None) is True
    assert len(script.to(TOKEN_PATH)) == 2


async def test_delegated_bearer_is_used_alone_and_not_refreshed(
    script: Script, harness: HarnessFactory
) -> None:
    """A fixed (delegated) bearer is sent as is; a 401 is a rejection, with no token call."""
    script.on(AUTHORIZE_PATH, httpx.Response(401))
    h = harness(TracengentOptions(agent_id="billing-agent"), bearer_token="dlg.token.jwt")
    with pytest.raises(PlatformRejectedError):
        await h.call("authorize", PERMISSION)
    assert paths(script.requests) == [AUTHORIZE_PATH]
    assert script.requests[0].headers["authorization"] == "Bearer dlg.token.jwt"


def test_concurrent_sync_callers_share_one_fetch(script: Script) -> None:
    """Eight threads asking for a token at once cause a single token request."""
    with httpx.Client(transport=httpx.MockTransport(script.handle)) as http:
        provider = AgentTokenProvider(credentials_options(), http)
        tokens: list[str] = []
        threads = [
            threading.Thread(target=lambda: tokens.append(provider.get_token())) for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    assert tokens == [AGENT_TOKEN] * 8
    assert len(script.to(TOKEN_PATH)) == 1


async def test_concurrent_async_callers_share_one_fetch(script: Script) -> None:
    """Eight coroutines asking for a token at once cause a single token request."""
    async with httpx.AsyncClient(transport=httpx.MockTransport(script.handle)) as http:
        provider = AgentTokenProvider(credentials_options(), async_http=http)
        tokens = await asyncio.gather(*(provider.get_token_async() for _ in range(8)))
    assert tokens == [AGENT_TOKEN] * 8
    assert len(script.to(TOKEN_PATH)) == 1


async def test_a_caller_cancelled_as_the_fetch_lock_reaches_it_stays_cancelled() -> None:
    """A coroutine waiting for another's token fetch, cancelled in the very turn that fetch
    hands it the lock, raises CancelledError (never returns the token: a cancelled governance
    call must not go on to ask, and act on, a decision) and leaves the lock free."""
    fetching = asyncio.Event()
    answer = asyncio.Event()

    async def platform(request: httpx.Request) -> httpx.Response:
        fetching.set()
        await answer.wait()
        return token_answer()

    async with httpx.AsyncClient(transport=httpx.MockTransport(platform)) as http:
        provider = AgentTokenProvider(credentials_options(), async_http=http)

        async def first() -> str:
            token = await provider.get_token_async()
            # The lock was released just now, within this step: the waiter has not run yet.
            second.cancel()
            return token

        fetch = asyncio.create_task(first())
        await fetching.wait()
        second = asyncio.create_task(provider.get_token_async())
        for _ in range(10):  # loop turns, not time: `second` is now waiting for the lock
            await asyncio.sleep(0)
        answer.set()
        assert await fetch == AGENT_TOKEN
        with pytest.raises(asyncio.CancelledError):
            await second
        assert second.cancelled()
        provider.invalidate()  # the next call fetches, so it needs the lock
        assert await provider.get_token_async() == AGENT_TOKEN


async def test_a_caller_whose_deadline_passes_waiting_for_the_fetch_lock_is_unavailable() -> None:
    """Waiting for another coroutine's token fetch past the deadline raises
    PlatformUnavailableError, and the lock stays the fetching coroutine's alone."""
    fetching = asyncio.Event()
    answer = asyncio.Event()

    async def platform(request: httpx.Request) -> httpx.Response:
        fetching.set()
        await answer.wait()
        return token_answer()

    async with httpx.AsyncClient(transport=httpx.MockTransport(platform)) as http:
        provider = AgentTokenProvider(credentials_options(), async_http=http)
        fetch = asyncio.create_task(provider.get_token_async())
        await fetching.wait()
        with pytest.raises(PlatformUnavailableError, match="waiting for a token fetch"):
            await provider.get_token_async(deadline=time.monotonic())
        answer.set()
        assert await fetch == AGENT_TOKEN
        provider.invalidate()  # the next call fetches, so it needs the lock
        assert await provider.get_token_async() == AGENT_TOKEN


def test_token_form_fields_are_in_contract_order(script: Script) -> None:
    """The token request is form-encoded grant_type, client_id, client_secret, in that order."""
    with httpx.Client(transport=httpx.MockTransport(script.handle)) as http:
        AgentTokenProvider(credentials_options(), http).get_token()
    (request,) = script.requests
    assert (
        request.content
        == b"grant_type=client_credentials&client_id=key_test&client_secret=ags_test"
    )
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"


def test_invalidate_forces_a_new_fetch(script: Script) -> None:
    """After `invalidate()` the next `get_token` fetches again and claims reflect the new token."""
    script.on(TOKEN_PATH, token_answer(TOKEN_A), token_answer(TOKEN_B))
    clock = FakeClock()
    with httpx.Client(transport=httpx.MockTransport(script.handle)) as http:
        provider = AgentTokenProvider(credentials_options(), http, clock=clock)
        assert provider.cached_claims is None
        assert provider.get_token() == TOKEN_A
        before = provider.cached_permissions
        provider.invalidate()
        after = provider.cached_permissions
        assert (before, after) == (("payments:*",), ())
        assert provider.get_token() == TOKEN_B
    assert len(script.to(TOKEN_PATH)) == 2


def test_malformed_token_answer_raises_and_backs_off(script: Script) -> None:
    """A 200 without `access_token` is malformed, and the next call does not hit the endpoint
    (still malformed: nonsense is not an outage, so it never fails open)."""
    from opentelemetry.exporter.tracengent.errors import MalformedResponseError

    script.on(TOKEN_PATH, httpx.Response(200, json={"token_type": "Bearer"}))
    with httpx.Client(transport=httpx.MockTransport(script.handle)) as http:
        provider = AgentTokenProvider(credentials_options(), http, clock=FakeClock())
        with pytest.raises(MalformedResponseError):
            provider.get_token()
        with pytest.raises(MalformedResponseError, match="backing off"):
            provider.get_token()
    assert len(script.to(TOKEN_PATH)) == 1


# --- platform redirects: a caller's client that follows redirects must not follow the platform's


def _redirecting(script: Script, elsewhere: list[httpx.Request]) -> httpx.MockTransport:
    """The platform (`script`) answering every call with a 307 to another host, which records
    what it receives (`elsewhere`) and answers an allow or a token."""

    def handle(request: httpx.Request) -> httpx.Response:
        request.read()
        if request.url.host == "collector.invalid":
            elsewhere.append(request)
            if request.url.path == TOKEN_PATH:
                return token_answer()
            return httpx.Response(200, json=ALLOW)
        script.requests.append(request)
        target = f"https://collector.invalid{request.url.path}"
        return httpx.Response(307, headers={"Location": target})

    return httpx.MockTransport(handle)


_EVENT: JsonObject = {**EVENT}
_PERMISSION: JsonObject = {**PERMISSION}

_REDIRECTED_OPTIONS = (
    credentials_options(base_url="https://platform.invalid"),
    TracengentOptions(
        agent_id="billing-agent", ingest_key="agk_test", base_url="https://platform.invalid"
    ),
)


@pytest.mark.parametrize("options", _REDIRECTED_OPTIONS, ids=["client_credentials", "ingest_key"])
def test_a_following_http_client_never_follows_a_platform_redirect(
    script: Script, options: TracengentOptions
) -> None:
    """A caller's `http` client with `follow_redirects=True` carries the platform calls, yet a
    3xx from the platform is its answer: the client secret, the ingest key and the events are
    never re-sent to the host it names, and that host's allow is no decision (fail closed)."""
    elsewhere: list[httpx.Request] = []
    with httpx.Client(transport=_redirecting(script, elsewhere), follow_redirects=True) as http:
        platform = PlatformClient(options, http=http)
        delivered = platform.post_events([_EVENT])
        with pytest.raises(PlatformRejectedError):
            platform.authorize(_PERMISSION)
        platform.close()
    assert elsewhere == []
    assert (delivered.delivered, delivered.status_code) == (0, 307)
    assert script.requests


@pytest.mark.parametrize("options", _REDIRECTED_OPTIONS, ids=["client_credentials", "ingest_key"])
async def test_a_following_async_http_client_never_follows_a_platform_redirect(
    script: Script, options: TracengentOptions
) -> None:
    """The coroutine twin: the caller's `httpx.AsyncClient` (platform calls and token fetches)
    follows redirects, the platform's are not followed."""
    elsewhere: list[httpx.Request] = []
    transport = _redirecting(script, elsewhere)
    async with httpx.AsyncClient(transport=transport, follow_redirects=True) as http:
        provider = (
            AgentTokenProvider(options, async_http=http)
            if options.uses_client_credentials
            else None
        )
        platform = AsyncPlatformClient(options, http=http, token_provider=provider)
        delivered = await platform.post_events([_EVENT])
        with pytest.raises(PlatformRejectedError):
            await platform.authorize(_PERMISSION)
        await platform.aclose()
    assert elsewhere == []
    assert (delivered.delivered, delivered.status_code) == (0, 307)
    assert script.requests


async def test_token_endpoint_401_names_the_credentials_to_check(
    script: Script, harness: HarnessFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A 401 from the token endpoint (most often a mistyped client_id or client_secret) is
    explained, in the warning and in the error governance and telemetry report, by naming the
    settings to check and the client id, never the secret."""
    script.on(TOKEN_PATH, httpx.Response(401))
    h = harness(credentials_options(client_id="key_typo", client_secret="ags_wrong"))
    with caplog.at_level("WARNING", logger="tracengent"):
        with pytest.raises(AgentDisabledError) as caught:
            await h.call("authorize", PERMISSION)
        result = await h.call("post_events", [EVENT])
    assert isinstance(result, DeliveryResult)
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "tracengent.token"]
    for text in (str(caught.value), result.reason or "", warning):
        assert "client_id or client_secret" in text
        assert "TRACENGENT_CLIENT_SECRET" in text
        assert "ags_wrong" not in text
    assert "'key_typo'" in warning
