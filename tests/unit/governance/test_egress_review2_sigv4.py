"""AWS SigV4 presigned URL credentials never leave in a recorded URL nor reach the platform
(review 2): `X-Amz-Signature`, `X-Amz-Security-Token` and `X-Amz-Credential` are signature
parameters, redacted whatever the configuration."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent._url_redaction import redact_query
from tests.unit.tools.stubs import ALLOW

from .egress_support import World, scripted_governor, send

PRESIGNED = (
    "https://bucket.s3.amazonaws.com/report.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAEXAMPLE%2F20240101%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20240101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
    "&X-Amz-Security-Token=FQoGZXIvYXdzEXAMPLE&X-Amz-Signature=deadbeefcafe"
)
SECRETS = ("AKIAEXAMPLE", "FQoGZXIvYXdzEXAMPLE", "deadbeefcafe")


def test_recorded_url_redacts_sigv4_credentials() -> None:
    """`redact_query` masks the three values and keeps the rest as written."""
    query = httpx.URL(PRESIGNED).query.decode()
    redacted = redact_query(query)
    for secret in SECRETS:
        assert secret not in redacted
    assert "X-Amz-Signature=REDACTED" in redacted
    assert "X-Amz-Security-Token=REDACTED" in redacted
    assert "X-Amz-Credential=REDACTED" in redacted
    assert "X-Amz-Expires=900" in redacted


@pytest.mark.parametrize("name", ["X-Amz-Signature", "X-Amz-Security-Token", "X-Amz-Credential"])
async def test_platform_is_not_told_sigv4_credentials(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], name: str
) -> None:
    """The platform's view of the query holds `REDACTED` for each; the server gets them."""
    gate, platform = scripted_governor(dict(ALLOW), spans[0])
    world = World()
    await send(mode, gate, world, "GET", PRESIGNED)
    query = platform.requests[0]["query"]
    assert isinstance(query, dict)
    assert query[name] == "REDACTED"
    assert query["X-Amz-Expires"] == "900"
    assert world.received[0].url == httpx.URL(PRESIGNED)
