"""`BoundedTransport`, the blocking platform clients' default transport: what `httpx.HTTPTransport()`
does (TLS verified, `SSL_CERT_FILE` honoured, httpx's errors), and every step of an exchange
ended by the end `exchange_until` set, against real loopback sockets."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from opentelemetry.exporter.tracengent._bounded_body import (
    BoundedTransport,
    end_exchange,
    exchange_until,
)

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key: (certificate, key) PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tracengent-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextmanager
def _server(
    answer: bytes, *, interval_s: float = 0.0, tls: ssl.SSLContext | None = None
) -> Iterator[tuple[str, list[int]]]:
    """A loopback server answering each connection's first request with `answer`, one byte
    every `interval_s` when set: `(its URL, [bytes written])`."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()
    written = [0]

    def serve_one(conn: socket.socket) -> None:
        with suppress(OSError):
            if tls is not None:
                conn = tls.wrap_socket(conn, server_side=True)
            with conn:
                buffer = b""
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                if not interval_s:
                    conn.sendall(answer)
                    written[0] += len(answer)
                    conn.recv(1)  # until the client hangs up
                    return
                for index in range(len(answer)):
                    if stop.wait(interval_s):
                        return
                    conn.sendall(answer[index : index + 1])
                    written[0] += 1

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    scheme = "https" if tls is not None else "http"
    try:
        yield f"{scheme}://127.0.0.1:{listener.getsockname()[1]}", written
    finally:
        stop.set()
        with suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(5)


def _get(transport: httpx.BaseTransport, url: str, timeout_s: float) -> httpx.Response:
    """One exchange bounded by `timeout_s` from now, its body read."""
    token = exchange_until(time.monotonic() + timeout_s)
    try:
        response = transport.handle_request(
            httpx.Request(
                "GET",
                url + "/v1/approvals/apr_1",
                extensions={
                    "timeout": {
                        "connect": timeout_s,
                        "read": timeout_s,
                        "write": timeout_s,
                        "pool": timeout_s,
                    }
                },
            )
        )
        try:
            response.read()
        finally:
            response.close()
        return response
    finally:
        end_exchange(token)


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A TLS server context for 127.0.0.1; `SSL_CERT_FILE`/`SSL_CERT_DIR` unset."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def test_tls_is_verified(certificate: ssl.SSLContext) -> None:
    """A certificate no trusted authority signed is refused, as httpx's error."""
    with _server(ANSWER, tls=certificate) as (url, _):
        transport = BoundedTransport()
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            _get(transport, url, 5.0)
        transport.close()


def test_ssl_cert_file_is_trusted_as_httpx_does(
    certificate: ssl.SSLContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`SSL_CERT_FILE` naming the certificate makes the exchange succeed over TLS."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
    with _server(ANSWER, tls=certificate) as (url, _):
        transport = BoundedTransport()
        response = _get(transport, url, 5.0)
        transport.close()
    assert response.status_code == 200
    assert response.content == b"{}"


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_a_dripped_status_line_ends_by_the_exchange_end(
    tls: bool, certificate: ssl.SSLContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each byte of the answer comes within the read timeout, the whole far later (about 20
    times the bound): the exchange raises a read timeout while the status line is arriving."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
    slow = ANSWER + b" " * 40  # 100 bytes at 0.05 s: 5 s, against 0.25 s
    with _server(slow, interval_s=0.05, tls=certificate if tls else None) as (url, written):
        transport = BoundedTransport()
        with pytest.raises(httpx.ReadTimeout):
            _get(transport, url, 0.25)
        cut_at = written[0]
        transport.close()
    assert cut_at < len(b"HTTP/1.1 200 OK\r\n")


def test_an_exchange_already_past_its_end_sends_nothing() -> None:
    """Past the end, the connect itself times out: nothing reaches the server."""
    with _server(ANSWER) as (url, written):
        transport = BoundedTransport()
        with pytest.raises(httpx.ConnectTimeout):
            _get(transport, url, -1.0)
        transport.close()
    assert written == [0]


def test_outside_an_exchange_each_step_keeps_the_request_timeout() -> None:
    """No end set: an answer is read as `httpx.HTTPTransport` would."""
    with _server(ANSWER) as (url, _):
        transport = BoundedTransport()
        response = transport.handle_request(httpx.Request("GET", url + "/x"))
        assert response.read() == b"{}"
        response.close()
        transport.close()
