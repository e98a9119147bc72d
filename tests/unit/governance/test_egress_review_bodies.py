"""Egress redaction is applied to the bytes actually sent, whatever the JSON body's charset.

A JSON body is decoded with its declared (allowed) charset and a redacted one re-encoded in it
(header and bytes agree, Content-Length matches). A JSON body the SDK cannot parse is never sent
unredacted when the platform requires redactions: the request is denied
(`redaction_unapplicable`); without redactions it is denied too (`body_unreadable`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from opentelemetry.exporter.tracengent.errors import ToolDeniedException
from tests.unit.tools.stubs import ALLOW, allow_redacting
from tracengent._governance._egress_body import MAX_BODY_DEPTH

from .egress_support import World, scripted_governor, send

URL = "https://api.example.com/v1/pay"
DOCUMENT = {"name": "Müller", "card": "4111111111111111"}
MASKED = {"name": "Müller", "card": "***REDACTED***"}
CARD = "4111111111111111"

UNPARSABLE = [
    pytest.param(
        json.dumps(DOCUMENT, ensure_ascii=False).encode("latin-1"),
        "application/json; charset=utf-8",
        id="latin-1 bytes declared utf-8",
    ),
    pytest.param(
        json.dumps(DOCUMENT, ensure_ascii=False).encode("cp1252"),
        "application/json; charset=cp1252",
        id="charset not honoured, bytes not UTF-8",
    ),
    pytest.param(
        b'{"card":"' + CARD.encode() + b'","m":' + b"[" * 3000 + b"]" * 3000 + b"}",
        "application/json",
        id="nested too deep",
    ),
    pytest.param(b'{"card":"' + CARD.encode() + b'",}', "application/json", id="malformed"),
]


@pytest.fixture(autouse=True)
def default_recursion_limit() -> Iterator[None]:
    """The interpreter's default recursion limit: "nested too deep" is deeper than it, whatever
    an earlier test (mypy's API raises it) left behind."""
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    yield
    sys.setrecursionlimit(previous)


@pytest.mark.parametrize(
    ("content_type", "codec"),
    [
        ("application/json; charset=iso-8859-1", "iso-8859-1"),
        ("application/json; charset=latin-1", "latin-1"),
        ('application/json; charset="UTF-16"', "utf-16"),
        ("application/json;charset=utf-32", "utf-32"),
        ("application/json; charset=utf-8", "utf-8"),
        ("application/vnd.api+json; charset=utf-16le", "utf-16-le"),
    ],
)
async def test_body_in_a_declared_charset_is_redacted_in_that_charset(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], content_type: str, codec: str
) -> None:
    """The platform sees the decoded document; the server gets the masked document encoded in
    the declared charset, under the same Content-Type and a matching Content-Length."""
    gate, platform = scripted_governor(allow_redacting("$.card", "mask"), spans[0])
    world = World()
    content = json.dumps(DOCUMENT, ensure_ascii=False).encode(codec)
    headers = {"Content-Type": content_type}
    await send(mode, gate, world, "POST", URL, content=content, headers=headers)
    assert platform.requests[0]["body"] == DOCUMENT
    (received,) = world.received
    assert json.loads(received.content.decode(codec)) == MASKED
    assert received.headers["content-type"] == content_type
    assert received.headers["content-length"] == str(len(received.content))


async def test_a_character_the_charset_cannot_hold_is_sent_escaped(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """A `\\u20ac` escape in a Latin-1 body stays an escape: the re-encoded body is Latin-1."""
    gate, _ = scripted_governor(allow_redacting("$.card", "mask"), spans[0])
    world = World()
    content = b'{"price":"\\u20ac 5","card":"' + CARD.encode() + b'"}'
    headers = {"Content-Type": "application/json; charset=latin-1"}
    await send(mode, gate, world, "POST", URL, content=content, headers=headers)
    (received,) = world.received
    assert json.loads(received.content.decode("latin-1")) == {
        "price": "€ 5",
        "card": "***REDACTED***",
    }


@pytest.mark.parametrize(("content", "content_type"), UNPARSABLE)
async def test_unparsable_json_body_with_required_redactions_is_denied(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], content: bytes, content_type: str
) -> None:
    """The SDK cannot apply a redaction to a body it could not parse: deny, nothing sent."""
    gate, platform = scripted_governor(allow_redacting("$.card", "mask"), spans[0])
    world = World()
    with pytest.raises(ToolDeniedException) as caught:
        await send(
            mode, gate, world, "POST", URL, content=content, headers={"Content-Type": content_type}
        )
    assert caught.value.outcome == "redaction_unapplicable"
    assert "body" not in platform.requests[0]
    assert world.received == []


@pytest.mark.parametrize(("content", "content_type"), UNPARSABLE)
async def test_unparsable_json_body_without_redactions_is_denied(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter], content: bytes, content_type: str
) -> None:
    """An allow without redactions still denies such a body (`body_unreadable`): the platform
    decided without the document the server reads."""
    gate, platform = scripted_governor(dict(ALLOW), spans[0])
    world = World()
    headers = {"Content-Type": content_type}
    with pytest.raises(ToolDeniedException) as caught:
        await send(mode, gate, world, "POST", URL, content=content, headers=headers)
    assert caught.value.outcome == "body_unreadable"
    assert world.received == []
    assert "body" not in platform.requests[0]


async def test_empty_json_body_with_redactions_is_sent(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """An empty JSON body holds nothing to redact: the allow goes ahead."""
    gate, _ = scripted_governor(allow_redacting("$.card", "mask"), spans[0])
    world = World()
    headers = {"Content-Type": "application/json"}
    await send(mode, gate, world, "POST", URL, content=b"", headers=headers)
    assert world.bodies == [b""]


async def test_a_body_past_the_depth_bound_is_unreadable_whatever_the_decoder_reads(
    mode: str, spans: tuple[Tracer, InMemorySpanExporter]
) -> None:
    """A decoder that reads 3000 levels (Python 3.13's does; a raised recursion limit here, put
    back by the fixture) still finds the body unreadable: the Python version must not decide
    what the platform is shown or what leaves."""
    sys.setrecursionlimit(20_000)
    deep = b'{"m":' + b"[" * (MAX_BODY_DEPTH + 1) + b"]" * (MAX_BODY_DEPTH + 1) + b"}"
    assert json.loads(deep) is not None  # the precondition: this decoder reads it
    gate, platform = scripted_governor(dict(ALLOW), spans[0])
    world = World()
    headers = {"Content-Type": "application/json"}
    with pytest.raises(ToolDeniedException) as caught:
        await send(mode, gate, world, "POST", URL, content=deep, headers=headers)
    assert caught.value.outcome == "body_unreadable"
    assert world.received == []
    assert "body" not in platform.requests[0]
    # As deep as the bound: read, shown and sent.
    bounded = b"[" * MAX_BODY_DEPTH + b"]" * MAX_BODY_DEPTH
    await send(mode, gate, world, "POST", URL, content=bounded, headers=headers)
    assert len(world.received) == 1
    assert "body" in platform.requests[1]
