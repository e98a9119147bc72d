"""A request httpx cannot write (an illegal header value) is our failure, not an outage (review 3).

`ingest_key="agk_...\\n"` (a key read from a file with its newline) made h11 raise
`LocalProtocolError: Illegal header value b'agk_...\\n'`. That is a `TransportError`, so the call
was retried as if the platform were down, ended "platform unreachable" (which a fail-open setting
turns into an allow) and the message, with the key in it, became the deny reason, the span's
reason and the log line. Now options refuse such credentials up front without quoting them, and a
`LocalProtocolError` from any other header (a delegated bearer, a token) ends the call at once as a
`PlatformError` whose text names no header value.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from opentelemetry.exporter.tracengent.errors import (
    PlatformError,
    PlatformUnavailableError,
    TracengentConfigError,
)
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.transport import PlatformClient

from .conftest import AUTHORIZE_PATH, HarnessFactory, Script

SECRET = "agk_demo_SECRET"
PERMISSION = {"permission": "payments:refund"}


@pytest.mark.parametrize("key", [SECRET + "\n", " " + SECRET, "agk demo", SECRET + "\x00"])
def test_an_ingest_key_that_cannot_be_a_header_is_refused_unquoted(key: str) -> None:
    options = TracengentOptions(agent_id="a", ingest_key=key)
    with pytest.raises(TracengentConfigError, match="ingest_key") as caught:
        options.validate()
    assert "demo" not in str(caught.value)


async def test_a_local_protocol_error_is_not_retried_nor_an_outage_nor_quoted(
    script: Script, harness: HarnessFactory
) -> None:
    error = httpx.LocalProtocolError(f"Illegal header value b'{SECRET}\\n'")
    script.on(AUTHORIZE_PATH, error)
    h = harness()
    with pytest.raises(PlatformError) as caught:
        await h.call("authorize", PERMISSION)
    assert not isinstance(caught.value, PlatformUnavailableError)
    assert SECRET not in str(caught.value)
    assert "LocalProtocolError" in str(caught.value)
    assert len([r for r in script.requests if r.url.path == AUTHORIZE_PATH]) == 1


class _Ok(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def loopback() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_bearer_h11_refuses_ends_the_call_without_naming_it(loopback: str) -> None:
    """Through the real httpx/h11 stack on loopback."""
    options = TracengentOptions(agent_id="a", base_url=loopback, ingest_key="agk_ok")
    client = PlatformClient(options, bearer_token=SECRET + "\nX-Injected: 1")
    try:
        with pytest.raises(PlatformError) as caught:
            client.authorize(dict(PERMISSION))
    finally:
        client.close()
    assert not isinstance(caught.value, PlatformUnavailableError)
    assert SECRET not in str(caught.value)
