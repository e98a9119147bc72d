"""Ingest body decoding and validation, without a server."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest

from tests.support.deep_json import deep_reading_decoder
from tracengent.platform import _ingest
from tracengent.platform._ingest import (
    MAX_BODY_BYTES,
    MAX_BODY_DEPTH,
    IngestError,
    decode_body,
    validate_close,
    validate_events,
)


def test_gzip_body_is_decoded() -> None:
    """A gzip body with Content-Encoding gzip decodes to its JSON."""
    assert decode_body(gzip.compress(b'[{"a": 1}]'), "gzip") == [{"a": 1}]


def test_truncated_gzip_is_refused() -> None:
    """A gzip stream cut short is `bad gzip`, not a partial document."""
    with pytest.raises(IngestError) as caught:
        decode_body(gzip.compress(b"[1, 2, 3]")[:-6], "gzip")
    assert caught.value.error == "bad gzip"


def test_gzip_bomb_stops_at_the_size_limit() -> None:
    """A body that inflates beyond MAX_BODY_BYTES is refused as too large."""
    bomb = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    data = bomb.compress(b" " * (MAX_BODY_BYTES + 10)) + bomb.flush()
    with pytest.raises(IngestError) as caught:
        decode_body(data, "gzip")
    assert caught.value.error == "too large"


def test_every_gzip_member_is_decoded() -> None:
    """A body of several gzip members (RFC 1952; `gzip -c a b`) is all of them, not the first."""
    body = gzip.compress(b'[{"a": 1},') + gzip.compress(b' {"b": 2}]')
    assert decode_body(body, "gzip") == [{"a": 1}, {"b": 2}]


@pytest.mark.parametrize("tail", [b"junk", gzip.compress(b"]")[:-3]])
def test_bytes_after_a_gzip_member_must_be_a_whole_member(tail: bytes) -> None:
    """Whatever follows a member is another complete member, or the body is `bad gzip`."""
    with pytest.raises(IngestError) as caught:
        decode_body(gzip.compress(b"[1, 2") + tail, "gzip")
    assert caught.value.error == "bad gzip"


def test_gzip_members_together_stop_at_the_size_limit() -> None:
    """The size limit covers all members together: many small members cannot add up past it."""
    half = gzip.compress(b" " * (MAX_BODY_BYTES // 2 + 1), compresslevel=1)
    with pytest.raises(IngestError) as caught:
        decode_body(half + half, "gzip")
    assert caught.value.error == "too large"


def test_unknown_encoding_is_refused() -> None:
    """A Content-Encoding other than gzip/identity is refused, not guessed."""
    with pytest.raises(IngestError, match="br"):
        decode_body(b"[]", "br")


def test_valid_events_pass_through_unchanged() -> None:
    """Valid events come back as the same objects, in order."""
    batch = [{"type": "error", "name": "boom", "status": "failure", "extra": {"kept": True}}]
    assert validate_events(batch) == batch


_ID_FIELDS = ["eventId", "idempotencyKey", "agentId", "traceId", "parentEventId"]


@pytest.mark.parametrize("field", _ID_FIELDS)
def test_an_empty_id_is_refused_naming_the_field_and_the_event(field: str) -> None:
    """`""` is no id (ids are prefixed opaque strings; an absent optional is left out): an event
    carrying one is refused as a non-string id is, the detail naming the event."""
    batch = [
        {"type": "action", "name": "ok", "status": "success"},
        {"type": "action", "name": "odd", "status": "success", field: ""},
    ]
    with pytest.raises(IngestError) as caught:
        validate_events(batch)
    assert caught.value.error == f"invalid {field}"
    assert caught.value.detail == f"event 1: {field!r} must be a non-empty string"


@pytest.mark.parametrize("field", _ID_FIELDS)
@pytest.mark.parametrize("value", [7, None, ["trc_1"]])
def test_a_non_string_id_is_still_refused(field: str, value: object) -> None:
    """An id field holding something other than a string (null included) stays refused."""
    batch = [{"type": "action", "name": "odd", "status": "success", field: value}]
    with pytest.raises(IngestError) as caught:
        validate_events(batch)
    assert caught.value.error == f"invalid {field}"


def test_present_and_absent_ids_pass() -> None:
    """Every id field set to a non-empty string, or left out, passes unchanged."""
    batch = [
        {"type": "action", "name": "bare", "status": "success"},
        {"type": "action", "name": "full", "status": "success", **{f: "x" for f in _ID_FIELDS}},
    ]
    assert validate_events(batch) == batch


def test_an_empty_close_trace_id_is_refused() -> None:
    """A close with `traceId: ""` is refused, as events under that id are."""
    with pytest.raises(IngestError) as caught:
        validate_close({"traceId": "", "op": "Close", "status": "completed"})
    assert caught.value.error == "invalid traceId"


@pytest.mark.parametrize("agent_id", ["", 7, None])
def test_a_close_agent_id_follows_the_events_rule(agent_id: object) -> None:
    """A close's `agentId`, when present, must be a non-empty string, as an event's must."""
    with pytest.raises(IngestError) as caught:
        validate_close({"traceId": "trc_1", "agentId": agent_id, "op": "Close", "status": "failed"})
    assert (caught.value.error, caught.value.detail) == (
        "invalid agentId",
        "'agentId' must be a non-empty string",
    )


def test_the_depth_bound_holds_whatever_the_decoder_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """A standard decoder that reads 3000 levels (Python 3.13's does): the Python version must
    not decide what is stored. A governance body past the bound is refused `too deep`, and an
    events body's deep field value is stored as its text, as where the decoder gives up first."""
    with deep_reading_decoder() as decoder:
        monkeypatch.setattr(_ingest, "_STRICT_DECODER", decoder)
        _bounded_bodies(decoder)


def _bounded_bodies(decoder: json.JSONDecoder) -> None:
    deep = "[" * 3000 + "]" * 3000
    assert decoder.decode(deep) is not None  # the precondition: this decoder reads it
    with pytest.raises(IngestError) as caught:
        decode_body(deep.encode(), None)
    assert caught.value.error == "too deep"
    value = "[" * 1000 + "]" * 1000
    body = f'[{{"name":"deep","input":{value}}},{{"name":"mate","input":[1]}}]'
    decoded = decode_body(body.encode(), None, deep_payloads_as_text=True)
    assert decoded == [{"name": "deep", "input": value}, {"name": "mate", "input": [1]}]
    bounded = "[" * MAX_BODY_DEPTH + "]" * MAX_BODY_DEPTH
    assert decode_body(bounded.encode(), None) != bounded  # as deep as the bound: decoded
