"""The form endpoints (the token endpoint, the console's approve/deny) decode a gzip body
(`Content-Encoding: gzip`) as the JSON endpoints do, under their own limit as sent and decoded;
a body that is not gzip, or in an encoding the platform does not speak, is a 400 that says so."""

from __future__ import annotations

import gzip
import re

import httpx
import pytest

from tracengent.testing import RunningPlatform

_FORM = b"grant_type=client_credentials&client_id=key_demo&client_secret=ags_demo"
_FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def _post_token(url: str, body: bytes, encoding: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/oauth/token",
        content=body,
        headers={**_FORM_HEADERS, "Content-Encoding": encoding},
        timeout=10,
    )


def test_a_gzipped_token_form_gets_a_token(tracengent_platform: RunningPlatform) -> None:
    """The client-credentials form, gzipped: a token, as for the form sent plain."""
    answer = _post_token(tracengent_platform.url, gzip.compress(_FORM), "gzip")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    check = httpx.post(
        f"{tracengent_platform.url}/v1/authorize",
        json={"permission": "admin:delete"},
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=10,
    )
    assert check.status_code == 200, check.text


def test_a_gzipped_token_form_of_many_members_gets_a_token(
    tracengent_platform: RunningPlatform,
) -> None:
    """A form gzipped in two members (as a streaming compressor writes) is read whole."""
    body = gzip.compress(_FORM[:20]) + gzip.compress(_FORM[20:])
    answer = _post_token(tracengent_platform.url, body, "gzip")
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("body", "encoding", "detail"),
    [
        (_FORM, "gzip", "not valid gzip"),
        (gzip.compress(_FORM)[:-4], "gzip", "truncated gzip"),
        (gzip.compress(_FORM + b"&pad=" + b"x" * 100_000), "gzip", "exceeds 4096 bytes"),
        (_FORM, "br", "unsupported Content-Encoding 'br'"),
    ],
    ids=["not-gzip", "truncated", "decodes-too-large", "unsupported"],
)
def test_an_undecodable_token_form_is_a_clear_400(
    tracengent_platform: RunningPlatform, body: bytes, encoding: str, detail: str
) -> None:
    """Plain bytes labelled gzip, a cut stream, a small gzip that inflates past the form limit,
    an unknown encoding: `400 invalid_request` naming the problem, not "grant_type is
    required"."""
    answer = _post_token(tracengent_platform.url, body, encoding)
    assert answer.status_code == 400
    payload = answer.json()
    assert payload["error"] == "invalid_request"
    assert detail in payload["detail"]
    assert "grant_type" not in payload["detail"]


def _pending_approval(url: str) -> str:
    token = _post_token(url, _FORM, "identity").json()["access_token"]
    answer = httpx.post(
        f"{url}/v1/authorize",
        json={
            "permission": "payments:refund",
            "context": {"amount": 1050, "currency": "USD"},
            "traceId": "trc_gzip",
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    assert answer["status"] == "pending_approval", answer
    return str(answer["approvalId"])


def test_a_gzipped_console_decision_form_is_decided(
    tracengent_platform: RunningPlatform,
) -> None:
    """The console's approve form, gzipped with its CSRF token: the approval is approved."""
    url = tracengent_platform.url
    approval_id = _pending_approval(url)
    match = _CSRF.search(httpx.get(f"{url}/", timeout=10).text)
    assert match is not None
    form = f"csrf_token={match.group(1)}".encode()
    answer = httpx.post(
        f"{url}/console/approvals/{approval_id}/approve",
        content=gzip.compress(form),
        headers={**_FORM_HEADERS, "Content-Encoding": "gzip", "Accept": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["approval"]["status"] == "approved"


def test_an_undecodable_console_form_is_a_400(tracengent_platform: RunningPlatform) -> None:
    """A console form labelled gzip that is not: 400 saying so, the approval still pending."""
    url = tracengent_platform.url
    approval_id = _pending_approval(url)
    answer = httpx.post(
        f"{url}/console/approvals/{approval_id}/approve",
        content=b"csrf_token=x",
        headers={**_FORM_HEADERS, "Content-Encoding": "gzip"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert "not valid gzip" in answer.json()["detail"]
    approval = tracengent_platform.store.approval(approval_id)
    assert approval is not None
    assert approval.status == "pending"
