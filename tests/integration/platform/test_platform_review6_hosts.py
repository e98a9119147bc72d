"""The API, like the console, answers only requests addressed to a loopback host name: a page
whose domain an attacker re-binds to 127.0.0.1 (DNS rebinding) must not get a token with the
built-in policy's public credentials, nor record events or decisions."""

from __future__ import annotations

import httpx
import pytest

from tracengent.testing import RunningPlatform

_FORM = {"grant_type": "client_credentials", "client_id": "key_demo", "client_secret": "ags_demo"}
_EVENT = [{"type": "action", "name": "junk", "status": "success"}]


def _post(
    platform: RunningPlatform,
    path: str,
    host: str,
    *,
    data: dict[str, str] | None = None,
    json: object = None,
) -> httpx.Response:
    return httpx.post(
        f"{platform.url}{path}",
        headers={"Host": host, "X-Ingest-Key": "agk_demo"},
        data=data,
        json=json,
        timeout=10,
    )


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8080", "127.0.0.1.nip.io"])
def test_a_foreign_host_gets_no_token(tracengent_platform: RunningPlatform, host: str) -> None:
    """The token endpoint refuses a request addressed to another host name: 403, no token."""
    answer = _post(tracengent_platform, "/v1/oauth/token", host, data=_FORM)
    assert answer.status_code == 403
    assert "access_token" not in answer.json()


def test_a_foreign_host_records_nothing(tracengent_platform: RunningPlatform) -> None:
    """Ingest, authorize and tool-authorize under a foreign Host store nothing."""
    host = "attacker.example:8080"
    assert _post(tracengent_platform, "/v1/ingest/events", host, json=_EVENT).status_code == 403
    authorize = {"permission": "payments:refund", "context": {"amount": 900}}
    assert _post(tracengent_platform, "/v1/authorize", host, json=authorize).status_code == 403
    tool = {"transport": "function", "functionName": "send_email", "body": {"to": "x"}}
    assert _post(tracengent_platform, "/v1/tool-authorize", host, json=tool).status_code == 403
    store = tracengent_platform.store
    assert (store.events(), store.decisions(), store.approvals()) == ([], [], [])


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "[::1]:{port}"]
)
def test_loopback_hosts_are_answered(tracengent_platform: RunningPlatform, host: str) -> None:
    """Loopback names, with or without a port, in any case, are served as before."""
    host = host.format(port=tracengent_platform.platform.port)
    assert _post(tracengent_platform, "/v1/oauth/token", host, data=_FORM).status_code == 200
    assert _post(tracengent_platform, "/v1/ingest/events", host, json=_EVENT).status_code == 200
