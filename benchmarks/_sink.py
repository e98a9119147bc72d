"""A loopback HTTP sink, run as its own process by `benchmarks._sink_process`.

It answers Tracengent ingest (`/v1/ingest/events`, `/v1/ingest/traces`), the token, authorize and
tool-authorize endpoints, OTLP/HTTP (`/v1/traces`) and `/ok` (a plain round trip), and counts what
it received: bodies are decoded (gunzipped, JSON or protobuf parsed) before the answer, so a 200
means the sink really holds the events. `GET /_bench/stats` returns the counters and
`POST /_bench/reset` zeroes them. It binds 127.0.0.1 on a free port and prints the port on its
first line of stdout; it stops on SIGTERM or when its stdin closes.
"""

from __future__ import annotations

import base64
import gzip
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

_STATS_LOCK = threading.Lock()
_ZERO = {
    "event_requests": 0,
    "events": 0,
    "max_events_per_request": 0,
    "trace_closes": 0,
    "otlp_requests": 0,
    "otlp_spans": 0,
    "token_requests": 0,
    "authorize_requests": 0,
    "plain_requests": 0,
    "gzipped_requests": 0,
}
_STATS = dict(_ZERO)


def _jwt_looking() -> str:
    def part(value: dict[str, object]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    claims = {"sub": "demo-agent", "permissions": ["*"], "exp": 4_102_444_800}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


_TOKEN = json.dumps({"access_token": _jwt_looking(), "token_type": "Bearer", "expires_in": 900})
_ALLOWED = json.dumps(
    {
        "allowed": True,
        "status": "allowed",
        "outcome": "policy_allow",
        "reason": "benchmark sink allows everything",
        "decisionId": "dec_bench",
    }
)


def _count_otlp_spans(body: bytes) -> int:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return sum(
        len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans
    )


def _add(**increments: int) -> None:
    with _STATS_LOCK:
        for key, value in increments.items():
            _STATS[key] += value


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in one write, and without Nagle's delay on keep-alive connections.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the benchmark reads the counters, not a log."""

    def _answer(self, status: int, body: str, content_type: str = "application/json") -> None:
        payload = body.encode()
        head = (
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode()
        self.wfile.write(head + payload)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding") == "gzip":
            _add(gzipped_requests=1)
            body = gzip.decompress(body)
        return body

    def do_GET(self) -> None:
        if self.path == "/_bench/stats":
            with _STATS_LOCK:
                snapshot = json.dumps(_STATS)
            self._answer(200, snapshot)
        elif self.path.startswith("/ok"):
            _add(plain_requests=1)
            self._answer(200, "ok", "text/plain")
        else:
            self._answer(404, "{}")

    def do_POST(self) -> None:
        body = self._body()
        path = self.path.split("?", 1)[0]
        if path == "/v1/ingest/events":
            events = json.loads(body)
            with _STATS_LOCK:
                _STATS["event_requests"] += 1
                _STATS["events"] += len(events)
                _STATS["max_events_per_request"] = max(
                    _STATS["max_events_per_request"], len(events)
                )
            self._answer(200, "{}")
        elif path == "/v1/ingest/traces":
            json.loads(body)
            _add(trace_closes=1)
            self._answer(200, "{}")
        elif path == "/v1/traces":
            _add(otlp_requests=1, otlp_spans=_count_otlp_spans(body))
            self._answer(200, "", "application/x-protobuf")
        elif path == "/v1/oauth/token":
            _add(token_requests=1)
            self._answer(200, _TOKEN)
        elif path in ("/v1/tool-authorize", "/v1/authorize"):
            _add(authorize_requests=1)
            self._answer(200, _ALLOWED)
        elif path == "/_bench/reset":
            with _STATS_LOCK:
                _STATS.update(_ZERO)
            self._answer(200, "{}")
        elif path.startswith("/ok"):
            _add(plain_requests=1)
            self._answer(200, "ok", "text/plain")
        else:
            self._answer(404, "{}")


def main() -> None:
    """Serve until SIGTERM or stdin closes."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    def stop_when_parent_goes() -> None:
        # The parent holds our stdin open; EOF means it is gone, so no orphan sink outlives it.
        sys.stdin.read()
        server.shutdown()

    signal.signal(signal.SIGTERM, stop)
    threading.Thread(target=stop_when_parent_goes, daemon=True).start()
    sys.stdout.write(f"{server.server_address[1]}\n")
    sys.stdout.flush()
    server.serve_forever(poll_interval=0.2)
    server.server_close()


if __name__ == "__main__":
    main()
