"""A pre-encoded batch is sent as the bytes it carries, not encoded a second time."""

from __future__ import annotations

import gzip
import json

import httpx

from opentelemetry.exporter.tracengent.jsonvalue import (
    EncodedBatch,
    JsonObject,
    dumps_compact,
    json_array,
)
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import PlatformClient


def test_encoded_batch_bytes_are_the_body_sent() -> None:
    """post_events with an EncodedBatch sends exactly its JSON array (gzipped at the threshold)."""
    bodies: list[bytes] = []

    def platform(request: httpx.Request) -> httpx.Response:
        raw = request.content
        bodies.append(gzip.decompress(raw) if request.headers.get("content-encoding") else raw)
        return httpx.Response(200, json={"accepted": 2})

    events: list[JsonObject] = [{"type": "action", "name": "a", "status": "success"}, {"type": "action", "name": "b", "status": "success"}]  # fmt: skip
    # A marker only the pre-encoded bytes carry proves they were used as they are.
    encoded = [
        dumps_compact(events[0]).encode(),
        b'{"type":"action","name":"b","status":"success","x":1}',
    ]
    options = TracengentOptions(agent_id="a", ingest_key="agk_x", gzip_threshold_bytes=10)
    client = PlatformClient(options, transport=httpx.MockTransport(platform))
    result = client.post_events(EncodedBatch(json_array(encoded), len(events)))
    client.close()
    assert result.delivered == 2
    assert json.loads(bodies[0])[1]["x"] == 1
    assert bodies[0] == b"[" + b",".join(encoded) + b"]"
