"""The platform decides on the JSON document the server reads (review 2).

Servers parse JSON bytes as RFC 8259 says (UTF-8/16/32 from the bytes) and ignore exotic
charsets; a declared charset is honoured only from a short list and only when it agrees with the
bytes. A JSON body that cannot be read unambiguously is denied (`body_unreadable`) even without
redactions. The first Content-Type decides; a body without one that parses as JSON is JSON.
"""

from __future__ import annotations

import json

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from tests.unit.tools.stubs import ALLOW, allow_redacting
from tracengent._governance._egress_body import read_json_body

from .egress_support import World, scripted_governor, send

URL = "https://api.example.com/v1/refunds"
CARD = "4242 4242 4242 4242"
DOCUMENT = {"amount": 5000, "currency": "EUR", "card": CARD}
MASKED = {"amount": 5000, "currency": "EUR", "card": "***REDACTED***"}
PLAIN = json.dumps(DOCUMENT).encode()


@pytest.mark.parametrize(
    ("charset", "smuggled"),
    [
        ("unicode_escape", rb"\u0022,\u0022amount\u0022:10,\u0022y\u0022:\u0022"),
        ("utf-7", b"+ACIALAAiAGEAbQBvAHUAbgB0ACIAOgAxADAALAAiAHkAIgA6ACI-"),
    ],
)
def test_an_exotic_charset_is_not_honoured(charset: str, smuggled: bytes) -> None:
    """A charset outside the list is ignored: the platform is told the document a UTF-8 server
    reads (amount 5000), not the one the charset would smuggle in (amount 10)."""
    content = b'{"amount":5000,"currency":"EUR","x":"' + smuggled + b'"}'
    request = httpx.Request(
        "POST",
        URL,
        content=content,
        headers={"Content-Type": f"application/json; charset={charset}"},
    )
    body = read_json_body(request)
    assert body.parsed
    assert body.value == json.loads(content)
    assert isinstance(body.value, dict)
    assert body.value["amount"] == 5000


async def test_exotic_charset_redaction_reaches_the_card_the_server_reads(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """`charset=unicode-escape` cannot hide `$.card` from the mask: the server reads it masked."""
    gate, platform = scripted_governor(allow_redacting("$.card", "mask"), spans[0])
    world = World()
    content = rb'{"amount":10,"x":"\",\"y\":{\"a\":\"","card":"' + CARD.encode() + rb'","z":"\"}"}'
    headers = {"Content-Type": "application/json; charset=unicode-escape"}
    await send(mode, gate, world, "POST", URL, content=content, headers=headers)
    (received,) = world.received
    assert json.loads(received.content)["card"] == "***REDACTED***"
    assert CARD.encode() not in received.content
    assert platform.requests[0]["body"] == json.loads(content)


async def test_a_charset_that_reads_another_document_is_denied(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """UTF-8 bytes declared Latin-1 read as two different documents: denied (`body_unreadable`),
    even though the platform required no redaction; nothing is sent."""
    gate, _ = scripted_governor(dict(ALLOW), spans[0])
    world = World()
    content = json.dumps({"name": "Müller"}, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=latin-1"}
    with pytest.raises(ToolDeniedException) as caught:
        await send(mode, gate, world, "POST", URL, content=content, headers=headers)
    assert caught.value.outcome == "body_unreadable"
    assert world.received == []


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        pytest.param(b"\xef\xbb\xbf" + PLAIN, "application/json; charset=utf-8", id="BOM utf-8"),
        pytest.param(PLAIN, "application/json; charset=utf8mb4", id="utf8mb4"),
        pytest.param(PLAIN, "application/json; charset=utf-16", id="utf-16 on utf-8 bytes"),
        pytest.param(PLAIN, "application/json; charset=x-unknown", id="unknown charset"),
        pytest.param(PLAIN, "application/json; charset=base64", id="not a text encoding"),
        pytest.param(json.dumps(DOCUMENT).encode("utf-16"), "application/json", id="utf-16 BOM"),
    ],
)
async def test_a_body_the_charset_cannot_read_is_read_from_its_bytes(
    mode: str,
    spans: tuple[Tracer, InMemorySpanExporter],
    content: bytes,
    content_type: str,
) -> None:
    """The platform is told the document the server's `json.loads(bytes)` reads, and the mask
    is applied to the bytes sent, still readable by that server."""
    gate, platform = scripted_governor(allow_redacting("$.card", "mask"), spans[0])
    world = World()
    headers = {"Content-Type": content_type}
    await send(mode, gate, world, "POST", URL, content=content, headers=headers)
    assert platform.requests[0]["body"] == DOCUMENT
    (received,) = world.received
    assert json.loads(received.content) == MASKED
    assert received.headers["content-length"] == str(len(received.content))


async def test_an_unreadable_body_is_denied_without_redactions(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """Malformed JSON under a JSON Content-Type: denied (`body_unreadable`) on a plain allow."""
    gate, _ = scripted_governor(dict(ALLOW), spans[0])
    world = World()
    headers = {"Content-Type": "application/json"}
    with pytest.raises(ToolDeniedException) as caught:
        await send(mode, gate, world, "POST", URL, content=b'{"amount":5000,', headers=headers)
    assert caught.value.outcome == "body_unreadable"
    assert world.received == []


async def test_a_json_body_without_content_type_is_told_and_redacted(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """No Content-Type (FastAPI parses the body as JSON): the platform sees it, the mask
    applies."""
    gate, platform = scripted_governor(allow_redacting("$.card", "mask"), spans[0])
    world = World()
    await send(mode, gate, world, "POST", URL, content=PLAIN)
    assert platform.requests[0]["body"] == DOCUMENT
    (received,) = world.received
    assert json.loads(received.content) == MASKED


async def test_a_non_json_body_without_content_type_is_sent_untouched(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """No Content-Type and not JSON: not a JSON body, sent as it is (without redactions: with
    some it is not sent, `test_egress_review4_forms`)."""
    gate, platform = scripted_governor(dict(ALLOW), spans[0])
    world = World()
    await send(mode, gate, world, "POST", URL, content=b"card=4242")
    assert "body" not in platform.requests[0]
    assert world.bodies == [b"card=4242"]


@pytest.mark.parametrize(
    ("content_types", "is_json"),
    [
        (["application/json", "text/plain"], True),
        (["text/plain", "application/json"], False),
    ],
)
async def test_the_first_content_type_decides(
    mode: str,
    spans: tuple[Tracer, InMemorySpanExporter],
    content_types: list[str],
    is_json: bool,
) -> None:
    """Two Content-Type headers: the first one says whether the body is JSON (a body that is not
    JSON, which no redaction can reach, is not sent when the platform requires some)."""
    gate, platform = scripted_governor(allow_redacting("$.card", "mask"), spans[0])
    world = World()
    headers = [("Content-Type", value) for value in content_types]
    if is_json:
        await send(mode, gate, world, "POST", URL, content=PLAIN, headers=headers)
        (received,) = world.received
        assert platform.requests[0]["body"] == DOCUMENT
        assert json.loads(received.content) == MASKED
    else:
        with pytest.raises(ToolDeniedException) as denied:
            await send(mode, gate, world, "POST", URL, content=PLAIN, headers=headers)
        assert "body" not in platform.requests[0]
        assert "not JSON" in denied.value.reason
        assert world.received == []
