"""Query parameters that are credentials by name alone are redacted everywhere (review 3).

`?token=`, `?key=` (Google API keys), `?private_token=` (GitLab), `?pageToken=`-style
`...token`/`...key` names and `?auth=` went as they were into the recorded `url.full`, the wire
event's `url` and the query the egress gate tells the platform. They are now `REDACTED` as the
signature parameters are. (Attribute names keep the narrower globs: `gen_ai.usage.input_tokens`
is a count, not a credential; only query parameters get this rule.)
"""

from __future__ import annotations

import httpx
import pytest

from opentelemetry.exporter.tracengent._url_redaction import REDACTED, safe_url
from tracengent._governance._egress_url import platform_query
from tracengent._scrubbing import Scrubber
from tracengent._tracking import request_event

CREDENTIALS = [
    "token",
    "TOKEN",
    "key",
    "private_token",
    "id_token",
    "authToken",
    "auth",
    "x-api-key",
]
PLAIN = ["q", "page", "tokens", "max_tokens", "keyword", "monkeys", "author"]


@pytest.mark.parametrize("name", CREDENTIALS)
def test_a_credential_name_is_redacted_in_every_url_rule(name: str) -> None:
    url = f"https://api.example.com/v1/x?{name}=s3cret&q=1"
    assert "s3cret" not in safe_url(url).url
    scrubber = Scrubber()
    assert scrubber.is_secret_parameter(name)
    _, attrs = request_event(httpx.Request("GET", url), scrubber)
    assert "s3cret" not in str(attrs)
    query = platform_query(httpx.URL(url), scrubber)
    assert query == {name: REDACTED, "q": "1"}


@pytest.mark.parametrize("name", PLAIN)
def test_other_names_keep_their_values(name: str) -> None:
    url = f"https://api.example.com/v1/x?{name}=visible"
    assert safe_url(url).url == url
    assert not Scrubber().is_secret_parameter(name)
