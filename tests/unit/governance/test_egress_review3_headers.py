"""Review 3: credential headers the platform was still told.

The egress gate kept `Authorization`, `Cookie`, `X-Api-Key`, ... and names the scrubber masks
from the platform, but told it an AWS SigV4 session token (`X-Amz-Security-Token`, whose query
twin review 2 already redacts), GitLab's `PRIVATE-TOKEN`, Vault's `X-Vault-Token`, Azure's
`Ocp-Apim-Subscription-Key` and webhook signatures. A header named as a token, a signature or a
credential (or as a signature query parameter) is now a credential: it reaches the tool, never
the platform.
"""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from tests.unit.tools.stubs import ALLOW

from .egress_support import World, scripted_governor, send

URL = "https://bucket.s3.amazonaws.com/report.pdf"
SECRETS = {
    "X-Amz-Security-Token": "FQoGZXIvYXdzSESSION",
    "X-Amz-Credential": "AKIAEXAMPLE/20240101/us-east-1/s3/aws4_request",
    "PRIVATE-TOKEN": "glpat-secret",
    "X-Vault-Token": "hvs.secret",
    "X-GitHub-Token": "ghp_secret",
    "Ocp-Apim-Subscription-Key": "azure-secret",
    "X-Functions-Key": "function-secret",
    "X-Auth-Key": "cloudflare-secret",
    "X-Hub-Signature-256": "sha256=secret",
    # Keys named for what they open (review 9).
    "X-Access-Key": "access-secret",
    "X-Master-Key": "master-secret",
    "DD-API-KEY": "datadog-api-secret",
    "DD-Application-Key": "datadog-app-secret",
    "X-Secret-Key": "secret-secret",
    "X-Key": "bare-secret",
}
KEPT = {"X-Amz-Date": "20240101T000000Z", "Idempotency-Key": "k-1", "X-Request-Id": "r-1"}


@pytest.mark.parametrize("name", sorted(SECRETS))
async def test_a_credential_header_reaches_the_tool_not_the_platform(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], name: str
) -> None:
    gate, platform = scripted_governor(dict(ALLOW), spans[0])
    world = World()
    await send(mode, gate, world, "GET", URL, headers={name: SECRETS[name], **KEPT})
    told = platform.requests[0]["headers"]
    assert isinstance(told, dict)
    assert name.lower() not in told
    assert SECRETS[name] not in str(platform.requests[0])
    assert {k.lower(): v for k, v in KEPT.items()}.items() <= told.items()
    assert world.received[0].headers[name] == SECRETS[name]
