"""Fixtures of the console tests: the platform app over a fresh store, and records to show."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue
from tracengent.platform import PlatformStore, default_policy
from tracengent.platform._app import create_app

OTEL_TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACE_ID = f"trc_{OTEL_TRACE_ID}b7ad6b7169203331"
HOSTILE = "<script>window.pwned = 1</script>"

_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def csrf_token(page_html: str) -> str:
    """The CSRF token the console page embeds."""
    match = _CSRF.search(page_html)
    assert match is not None, "the page embeds no CSRF token"
    return match.group(1)


def event(event_id: str, name: str, **fields: JsonValue) -> JsonObject:
    """A wire event of `TRACE_ID` (fields override the defaults)."""
    body: JsonObject = {
        "eventId": event_id,
        "traceId": TRACE_ID,
        "agentId": "demo-agent",
        "type": "action",
        "name": name,
        "status": "success",
        "occurredAt": "2026-11-25T02:00:00.000Z",
        "durationMs": 10,
    }
    body.update(fields)
    return body


@pytest.fixture
def store(tmp_path: Path) -> PlatformStore:
    """A fresh platform store."""
    return PlatformStore(tmp_path / "console.sqlite3")


@pytest.fixture
def console(store: PlatformStore) -> Iterator[TestClient]:
    """The platform app (console included) over `store`, addressed as a loopback host."""
    with TestClient(
        create_app(default_policy(), store), base_url="http://127.0.0.1:8080"
    ) as client:
        yield client
