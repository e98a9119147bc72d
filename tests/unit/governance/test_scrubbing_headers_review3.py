"""Captured credential headers are masked like the egress gate withholds them (review 3).

OTel's HTTP instrumentations record headers a user asks for as `http.request.header.<name>`
(`OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST`). A credential header whose name no
default glob matched (`X-Auth-Token`, `PRIVATE-TOKEN`, `X-Amz-Security-Token`,
`Ocp-Apim-Subscription-Key`) reached every exporter unmasked, though the egress gate never tells
the platform those headers. The scrubber now judges such attributes by the gate's header rule.
"""

from __future__ import annotations

import pytest

from tracengent._scrubbing import Scrubber

CREDENTIALS = [
    "http.request.header.x_auth_token",
    "http.request.header.private-token",
    "http.request.header.x_amz_security_token",
    "http.request.header.ocp_apim_subscription_key",
    "http.response.header.x_hub_signature_256",
]
PLAIN = [
    "http.request.header.accept",
    "http.request.header.content_type",
    "http.response.header.content_length",
    "gen_ai.usage.input_tokens",
]


@pytest.mark.parametrize("name", CREDENTIALS)
def test_a_captured_credential_header_is_sensitive(name: str) -> None:
    assert Scrubber().is_sensitive_name(name)


@pytest.mark.parametrize("name", PLAIN)
def test_other_headers_and_attributes_are_not(name: str) -> None:
    assert not Scrubber().is_sensitive_name(name)
