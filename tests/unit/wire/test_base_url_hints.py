"""A wrong `base_url` (a typo'd host, a wrong port, a trailing `/v1`) says so (first run).

Such a platform never answers, or answers 404 to every endpoint: the errors that governance
denies with and telemetry logs quoted only `ConnectError: [Errno 111] Connection refused` or
`rejected: 404 Not Found`, naming neither the address tried nor the setting to fix.
"""

from __future__ import annotations

import httpx
import pytest

from opentelemetry.exporter.tracengent.errors import PlatformError
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import DeliveryResult

from .conftest import (
    AUTHORIZE_PATH,
    EVENT,
    EVENTS_PATH,
    TOKEN_PATH,
    HarnessFactory,
    Script,
    credentials_options,
)

PERMISSION = {"permission": "payments:refund"}


def _ingest_key_options(base_url: str) -> TracengentOptions:
    return TracengentOptions(agent_id="billing-agent", ingest_key="agk_test", base_url=base_url)


def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


@pytest.mark.parametrize("credentials", ["ingest_key", "client_credentials"])
async def test_an_unreachable_platform_names_the_address_and_the_setting(
    script: Script, harness: HarnessFactory, credentials: str
) -> None:
    """Refused connections: the deny error and the telemetry reason name the URL tried and
    base_url / TRACENGENT_URL."""
    url = "http://localhost:18081"
    options = (
        _ingest_key_options(url)
        if credentials == "ingest_key"
        else credentials_options(base_url=url)
    )
    for path in (TOKEN_PATH, AUTHORIZE_PATH, EVENTS_PATH):
        script.on(path, _refused)
    h = harness(options)
    with pytest.raises(PlatformError) as caught:
        await h.call("authorize", PERMISSION)
    h.clock.now += 3600  # past the token endpoint's backoff
    result = await h.call("post_events", [EVENT])
    assert isinstance(result, DeliveryResult)
    for text in (str(caught.value), result.reason or ""):
        assert "http://localhost:18081/v1/" in text
        assert "base_url" in text
        assert "TRACENGENT_URL" in text


@pytest.mark.parametrize("credentials", ["ingest_key", "client_credentials"])
async def test_a_base_url_with_a_trailing_v1_is_explained_on_404(
    script: Script, harness: HarnessFactory, credentials: str
) -> None:
    """A 404 (here `/v1/v1/...`, from a base URL ending in `/v1`) names the URL it got and
    says base_url is the platform's address alone."""
    url = "http://localhost:8080/v1"
    options = (
        _ingest_key_options(url)
        if credentials == "ingest_key"
        else credentials_options(base_url=url)
    )
    h = harness(options)
    with pytest.raises(PlatformError) as caught:
        await h.call("authorize", PERMISSION)
    h.clock.now += 3600
    result = await h.call("post_events", [EVENT])
    assert isinstance(result, DeliveryResult)
    for text in (str(caught.value), result.reason or ""):
        assert "404" in text
        assert "http://localhost:8080/v1/v1/" in text
        assert "without /v1" in text
        assert "TRACENGENT_URL" in text


async def test_a_404_from_the_token_endpoint_is_a_rejection_not_an_outage(
    script: Script, harness: HarnessFactory
) -> None:
    """The token endpoint's 404 (a base URL ending in `/v1`) ends the call at once as a
    rejection, its reason keeping the base_url hint, not as retries exhausted."""
    h = harness(credentials_options(base_url="http://localhost:8080/v1"))
    result = await h.call("post_events", [EVENT])
    assert isinstance(result, DeliveryResult)
    assert (result.delivered, result.rejected, result.failed) == (0, 1, 0)
    assert result.status_code == 404
    reason = result.reason or ""
    assert "retries exhausted" not in reason
    assert "http://localhost:8080/v1/v1/oauth/token" in reason
    assert "without /v1" in reason
    assert len(script.to("/v1/v1" + TOKEN_PATH.removeprefix("/v1"))) == 1
    assert h.sleeps == []
