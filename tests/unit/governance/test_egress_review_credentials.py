"""No third-party credential in a governed request's URL or headers is told to the platform.

Query values are masked by the tracked client's rule (OTel's signature parameters and the
scrubber's sensitive names, `scrub_patterns` included); headers with such names are left out.
The server still receives the request as the application wrote it.
"""

from __future__ import annotations

import json

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from tests.unit.tools.stubs import ALLOW
from tracengent._governance._egress_url import platform_query
from tracengent._scrubbing import Scrubber

from .egress_support import World, scripted_governor, send

SECRETS = {
    "api_key": "sk_live_QUERY_SECRET",
    "access_token": "ya29.QUERY_TOKEN",
    "X-Goog-Signature": "c2lnbmF0dXJl",
    "client_secret": "cs_SECRET",
    "ssn": "123-45-6789",
}


def test_platform_query_masks_secret_values_and_keeps_the_rest() -> None:
    """Each value of a secret parameter (repeated ones too) is REDACTED; others are kept."""
    url = httpx.URL(
        "https://api.example.com/v1/flights",
        params=[("from", "AMS"), ("api_key", "a"), ("api_key", "b"), ("sig", "c"), ("to", "LIS")],
    )
    assert platform_query(url, Scrubber()) == {
        "from": "AMS",
        "api_key": ["REDACTED", "REDACTED"],
        "sig": "REDACTED",
        "to": "LIS",
    }


async def test_query_and_header_credentials_are_not_told_to_the_platform(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """The platform sees the parameter names but no secret value, nor a header named like a
    secret; `scrub_patterns` adds names (`*ssn*`). The server receives every value."""
    gate, platform = scripted_governor(dict(ALLOW), spans[0], scrub_patterns=["*ssn*"])
    world = World()
    await send(
        mode,
        gate,
        world,
        "GET",
        "https://api.example.com/v1/flights/LIS",
        params={**SECRETS, "cabin": "economy"},
        headers={"X-Access-Token": "HEADER_SECRET", "X-Trace": "t-1"},
    )
    told = platform.requests[0]
    assert told["query"] == {**dict.fromkeys(SECRETS, "REDACTED"), "cabin": "economy"}
    assert isinstance(told["headers"], dict)
    assert "x-access-token" not in told["headers"]
    assert told["headers"]["x-trace"] == "t-1"
    text = json.dumps(told)
    for secret in (*SECRETS.values(), "HEADER_SECRET"):
        assert secret not in text
    (received,) = world.received
    assert dict(received.url.params) == {**SECRETS, "cabin": "economy"}
    assert received.headers["x-access-token"] == "HEADER_SECRET"
