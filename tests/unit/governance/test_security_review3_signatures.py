"""A URL signature is a credential in any case, and so is a parameter named as one.

A signed URL (Laravel's `?expires=...&signature=...`, a CDN's `?sig=`, an S3-compatible client
writing `x-amz-signature` in lower case, a webhook's `auth_signature`) grants access to whoever
holds it. Its value is `REDACTED` in a recorded URL (tracked clients, other instrumentations) and
in the query a governed request tells the platform, like `?token=` and `?key=`, whatever the case
of its name.
"""

from __future__ import annotations

import httpx
import pytest

from opentelemetry.exporter.tracengent._url_redaction import is_credential_query_name, safe_url
from tracengent._governance._egress_url import platform_query
from tracengent._scrubbing import Scrubber


@pytest.mark.parametrize(
    "name",
    [
        "signature",
        "SIGNATURE",
        "Sig",
        "x-amz-signature",
        "x-goog-signature",
        "awsaccesskeyid",
        "x-amz-credential",
        "auth_signature",
        "X-Hub-Signature",
    ],
)
def test_signature_names_in_any_case_are_credentials(name: str) -> None:
    """The name of a signature parameter, in any case, or a name ending in `signature`."""
    assert is_credential_query_name(name)


def test_a_signed_url_is_recorded_without_its_signature() -> None:
    """Laravel's signed route keeps its expiry and loses its signature."""
    url = "https://app.example.com/unsubscribe/42?expires=1767225600&signature=9f2c1e0LEAK"
    assert safe_url(url).url == (
        "https://app.example.com/unsubscribe/42?expires=1767225600&signature=REDACTED"
    )


def test_a_governed_request_tells_the_platform_no_signature() -> None:
    """The egress gate's query for the platform redacts a lower-case signature too."""
    url = httpx.URL("https://files.example.com/a.pdf?x-amz-signature=LEAK1&SIG=LEAK2&page=2")
    assert platform_query(url, Scrubber()) == {
        "x-amz-signature": "REDACTED",
        "SIG": "REDACTED",
        "page": "2",
    }


@pytest.mark.parametrize("name", ["design", "signed", "assignee", "q", "page_size"])
def test_other_names_stay(name: str) -> None:
    """Names that merely contain `sig` are not credentials."""
    assert not is_credential_query_name(name)
