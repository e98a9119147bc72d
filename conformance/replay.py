"""Replaying `wire_contract.json`: load it, record what the SDK sends, compare modulo sentinels.

Reusable by any test that drives the SDK (the wire layer, or the public API) through an
`httpx.MockTransport`:

    recorder = Recorder.for_fixture(load_fixture())
    client = PlatformClient(options, transport=recorder.transport())
    ...
    assert normalize(recorder.last("/v1/ingest/events").json()) == entry["request"]
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import parse_qsl

import httpx

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue
from opentelemetry.exporter.tracengent.options import TracengentOptions

__all__ = [
    "FIXTURE_PATH",
    "GZIP_THRESHOLD_BYTES",
    "UNLISTED_MUST_BE_ABSENT",
    "VOLATILE_KEYS",
    "RecordedRequest",
    "Recorder",
    "entry",
    "entry_names",
    "fixture_options",
    "hydrate",
    "key_paths",
    "load_fixture",
    "make_jwt",
    "normalize",
    "normalize_headers",
    "produced_and_expected",
    "trace_link_problems",
]

FIXTURE_PATH: Final = Path(__file__).with_name("wire_contract.json")
"""This project's conformance fixture."""

VOLATILE_KEYS: Final[Mapping[str, str]] = {
    "eventId": "<id>",
    "idempotencyKey": "<id>",
    "traceId": "<id>",
    "parentEventId": "<id>",
    "occurredAt": "<ts>",
    "durationMs": "<duration>",
    "access_token": "<jwt>",
    "accessToken": "<jwt>",
}
"""Keys whose values are generated per run, and the sentinel the fixture writes instead."""

_TIMESTAMP: Final = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$")
_JWT: Final = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_ID_PREFIXES: Final[Mapping[str, str]] = {
    "eventId": "evt_",
    "parentEventId": "evt_",
    "traceId": "trc_",
}


def _has_contract_form(key: str, value: JsonValue) -> bool:
    """Whether `value` of volatile `key` has the form the contract gives it.

    Ids carry their prefix (`evt_`, `trc_`; an idempotency key is any non-empty text),
    timestamps are ISO-8601 UTC with microseconds (`2026-11-24T10:15:02.123456+00:00`),
    durations finite numbers >= 0, tokens three base64url segments.
    """
    if key == "occurredAt":
        return isinstance(value, str) and _TIMESTAMP.match(value) is not None
    if key == "durationMs":
        return (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value >= 0
        )
    if key in ("access_token", "accessToken"):
        return isinstance(value, str) and _JWT.match(value) is not None
    prefix = _ID_PREFIXES.get(key, "")
    return isinstance(value, str) and value.startswith(prefix) and len(value) > len(prefix)


UNLISTED_MUST_BE_ABSENT: Final = (
    "authorization",
    "x-ingest-key",
    "content-type",
    "content-encoding",
    "cookie",
    "proxy-authorization",
)
"""Headers a request may carry only when its fixture entry lists them: a second credential, a
content type on a request without a body, or a compressed body the entry sends plain."""

GZIP_THRESHOLD_BYTES: Final = 1024
"""The contract's default gzip threshold (§2): bodies this large or larger are sent gzipped."""

_USER_AGENT = re.compile(r"^tracengent-python/\S+$")
_BEARER = re.compile(r"^Bearer \S+$")


def load_fixture(path: Path = FIXTURE_PATH) -> JsonObject:
    """The whole fixture (`options`, `sentinels`, `entries`)."""
    loaded: JsonObject = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def entry_names(fixture: JsonObject | None = None) -> list[str]:
    """The fixture's entry names, sorted."""
    entries = (fixture or load_fixture())["entries"]
    assert isinstance(entries, dict)
    return sorted(entries)


def entry(name: str, fixture: JsonObject | None = None) -> JsonObject:
    """One entry of the fixture by name (`"ingest_events_traced"`, ...)."""
    entries = (fixture or load_fixture())["entries"]
    assert isinstance(entries, dict)
    found = entries[name]
    assert isinstance(found, dict)
    return found


def fixture_options(fixture: JsonObject | None = None, **overrides: object) -> TracengentOptions:
    """The client options the fixture was written for (`agentId`, credentials, tags), plus `overrides`."""
    raw = (fixture or load_fixture())["options"]
    assert isinstance(raw, dict)
    tags = raw["defaultTags"]
    options = TracengentOptions(
        agent_id=str(raw["agentId"]),
        client_id=str(raw["clientId"]),
        client_secret=str(raw["clientSecret"]),
        environment=str(raw["environment"]),
        default_tags=[str(t) for t in tags] if isinstance(tags, list) else [],
    )
    for name, value in overrides.items():
        assert hasattr(options, name), f"unknown TracengentOptions field {name}"
        setattr(options, name, value)
    return options


def normalize(value: JsonValue) -> JsonValue:
    """A copy of `value` with every volatile value (see `VOLATILE_KEYS`) replaced by its sentinel.

    Only a value of the contract's form becomes its sentinel (an `evt_` event id, a timestamp
    with microseconds in UTC, ...); any other is kept, so comparing with the fixture shows it.
    """
    if isinstance(value, dict):
        return {
            key: VOLATILE_KEYS[key]
            if key in VOLATILE_KEYS and _has_contract_form(key, item)
            else normalize(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [normalize(item) for item in value]
    return value


def normalize_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-case header names; bearer tokens become `Bearer <jwt>`, the UA version `<version>`."""
    normalized: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        if key == "authorization" and _BEARER.match(value):
            value = "Bearer <jwt>"
        elif key == "user-agent" and _USER_AGENT.match(value):
            value = "tracengent-python/<version>"
        normalized[key] = value
    return normalized


def key_paths(value: object, prefix: str = "$") -> list[str]:
    """Every object key in `value` as a path (`$.a`, `$[0].b`), in document order.

    Dict equality ignores key order; comparing these lists checks the contract's field order.
    """
    paths: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            paths.append(f"{prefix}.{key}")
            paths.extend(key_paths(item, f"{prefix}.{key}"))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths.extend(key_paths(item, f"{prefix}[{index}]"))
    return paths


def produced_and_expected(
    request: RecordedRequest, item: JsonObject, *, gzip_threshold_bytes: int = GZIP_THRESHOLD_BYTES
) -> tuple[dict[str, object], dict[str, object]]:
    """What `request` sent and what entry `item` says it must send, side by side to compare.

    Each side holds `method`, the `headers` and the body. Headers: the names the entry lists,
    normalized, and any of `UNLISTED_MUST_BE_ABSENT` the request carries though the entry does
    not list it; a body of at least `gzip_threshold_bytes` (the client's option) is expected
    with `content-encoding: gzip`, any other without it (§2). Body: `request_form` pairs, the
    `request` JSON normalized (minus `ignore_keys`) with its `key_order` (see `key_paths`), or
    `b""` when the entry has neither.
    """
    expected_headers = item.get("headers")
    assert isinstance(expected_headers, dict)
    headers = normalize_headers(request.headers)
    produced_headers = {name: headers.get(name) for name in expected_headers}
    for name in UNLISTED_MUST_BE_ABSENT:
        if name in headers and name not in expected_headers:
            produced_headers[name] = headers[name]
    produced: dict[str, object] = {"method": request.method, "headers": produced_headers}
    if len(request.body) >= gzip_threshold_bytes and "content-encoding" not in expected_headers:
        expected_headers = {**expected_headers, "content-encoding": "gzip"}
    expected: dict[str, object] = {"method": item["method"], "headers": expected_headers}
    if "request_form" in item:
        produced["body"], expected["body"] = request.form(), item["request_form"]
    elif "request" in item:
        body = normalize(request.json())
        ignored = item.get("ignore_keys")
        if isinstance(body, dict) and isinstance(ignored, list):
            body = {k: v for k, v in body.items() if k not in ignored}
        produced["body"], expected["body"] = body, item["request"]
        produced["key_order"], expected["key_order"] = key_paths(body), key_paths(item["request"])
    else:
        produced["body"], expected["body"] = request.body, b""
    return produced, expected


def make_jwt(claims: Mapping[str, JsonValue]) -> str:
    """An unsigned JWT carrying `claims` (the SDK reads claims without verifying them)."""

    def segment(part: Mapping[str, JsonValue]) -> str:
        raw = json.dumps(dict(part), separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims)}.sig"


def hydrate(value: JsonValue, *, token: str) -> JsonValue:
    """A fixture response made concrete: the `<jwt>` sentinel becomes `token`."""
    if value == "<jwt>":
        return token
    if isinstance(value, dict):
        return {key: hydrate(item, token=token) for key, item in value.items()}
    if isinstance(value, list):
        return [hydrate(item, token=token) for item in value]
    return value


def trace_link_problems(events: list[JsonValue]) -> list[str]:
    """What breaks §2's trace rules in a list of wire events of ONE trace (empty: none).

    Every event carries the same `traceId`; each later event's `parentEventId` names an event
    seen before it; only the first carries `rootRequest`.
    """
    problems: list[str] = []
    seen: set[object] = set()
    trace_ids = {e.get("traceId") for e in events if isinstance(e, dict)}
    if len(trace_ids) != 1 or None in trace_ids:
        problems.append(f"events do not share one traceId: {sorted(map(str, trace_ids))}")
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            problems.append(f"event {index} is not an object")
            continue
        if index == 0 and "rootRequest" not in event:
            problems.append("the first event has no rootRequest")
        if index > 0 and "rootRequest" in event:
            problems.append(f"event {index} repeats rootRequest")
        if index > 0 and event.get("parentEventId") not in seen:
            problems.append(f"event {index}'s parentEventId names no earlier event")
        seen.add(event.get("eventId"))
    return problems


@dataclass(frozen=True)
class RecordedRequest:
    """One request the SDK sent, its body already gunzipped."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    gzipped: bool

    def json(self) -> JsonValue:
        """The body parsed as JSON."""
        parsed: JsonValue = json.loads(self.body)
        return parsed

    def form(self) -> list[list[str]]:
        """The form fields as ordered `[name, value]` pairs."""
        return [[k, v] for k, v in parse_qsl(self.body.decode("ascii"), keep_blank_values=True)]


class Recorder:
    """An `httpx.MockTransport` handler answering by path and recording every request.

    Thread-safe; usable by sync and async clients alike.
    """

    def __init__(self, answers: Mapping[str, tuple[int, JsonValue]]) -> None:
        self._answers = dict(answers)
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []

    @classmethod
    def for_fixture(
        cls, fixture: JsonObject, *, token: str | None = None, names: Iterable[str] | None = None
    ) -> Recorder:
        """Answers the paths of entries `names` (default: all) with their fixture responses.

        Entries sharing a path (the authorize ones) overwrite each other: name the one you replay
        (and `oauth_token`). `<jwt>` in a response becomes `token`.
        """
        jwt = token or make_jwt({"sub": "key_billing", "permissions": ["payments:*"]})
        answers: dict[str, tuple[int, JsonValue]] = {}
        entries = fixture["entries"]
        assert isinstance(entries, dict)
        wanted = set(entries) if names is None else set(names)
        for name, item in entries.items():
            if name not in wanted:
                continue
            assert isinstance(item, dict)
            status = item.get("status", 200)
            assert isinstance(status, int)
            answers[str(item["path"])] = (status, hydrate(item.get("response"), token=jwt))
        return cls(answers)

    def answer(self, path: str, status: int, body: JsonValue) -> None:
        """Answer `path` with `status` and JSON `body` from now on."""
        with self._lock:
            self._answers[path] = (status, body)

    def transport(self) -> httpx.MockTransport:
        """A transport for `httpx.Client` or `httpx.AsyncClient`."""
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Record `request` and answer it (404 for an unknown path)."""
        body = request.read()
        gzipped = request.headers.get("content-encoding") == "gzip"
        if gzipped:
            body = gzip.decompress(body)
        recorded = RecordedRequest(
            request.method, request.url.path, dict(request.headers), body, gzipped
        )
        with self._lock:
            self.requests.append(recorded)
            status, answer = self._answers.get(request.url.path, (404, {"error": "not found"}))
        return httpx.Response(status, json=answer)

    def to(self, path: str) -> list[RecordedRequest]:
        """The requests sent to `path`, in order."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def last(self, path: str) -> RecordedRequest:
        """The last request sent to `path`."""
        sent = self.to(path)
        assert sent, f"nothing was sent to {path}"
        return sent[-1]
