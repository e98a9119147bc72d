"""The token endpoint names what is wrong with a request that is not a client-credentials form,
instead of claiming the grant type it did not find was unsupported (RFC 6749 §5.2)."""

from __future__ import annotations

import httpx

from tracengent.testing import RunningPlatform

_CREDENTIALS = {
    "grant_type": "client_credentials",
    "client_id": "key_demo",
    "client_secret": "ags_demo",
}


def test_credentials_sent_as_json_are_an_invalid_request_naming_the_form(
    tracengent_platform: RunningPlatform,
) -> None:
    """A JSON body is no form: 400 `invalid_request` saying to form-encode the fields."""
    answer = httpx.post(f"{tracengent_platform.url}/v1/oauth/token", json=_CREDENTIALS, timeout=10)
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == "invalid_request"
    assert "application/x-www-form-urlencoded" in body["detail"]
    assert "application/json" in body["detail"]


def test_a_form_without_grant_type_is_an_invalid_request(
    tracengent_platform: RunningPlatform,
) -> None:
    """A form missing grant_type is `invalid_request` naming the missing field."""
    answer = httpx.post(
        f"{tracengent_platform.url}/v1/oauth/token",
        data={"client_id": "key_demo", "client_secret": "ags_demo"},
        timeout=10,
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == "invalid_request"
    assert "grant_type" in body["detail"]


def test_another_grant_type_is_still_unsupported(tracengent_platform: RunningPlatform) -> None:
    """A grant type that is present but not client_credentials is `unsupported_grant_type`."""
    answer = httpx.post(
        f"{tracengent_platform.url}/v1/oauth/token",
        data={**_CREDENTIALS, "grant_type": "password"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "unsupported_grant_type"


def test_the_form_is_still_accepted(tracengent_platform: RunningPlatform) -> None:
    """The contract's form gets a token."""
    answer = httpx.post(f"{tracengent_platform.url}/v1/oauth/token", data=_CREDENTIALS, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["token_type"] == "Bearer"
