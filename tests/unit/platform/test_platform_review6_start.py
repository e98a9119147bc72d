"""`LocalPlatform.start` that fails before serving (no uvicorn, an app that cannot be built)
closes the socket it bound: the port is free again and the platform can be started later."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tracengent.platform import LocalPlatform, _server


def test_a_failed_start_frees_the_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The error propagates, the bound port can be bound again, and a later start serves."""
    platform = LocalPlatform(tmp_path / "db.sqlite3")
    real_make_server = _server.make_server

    def no_server(*_: object, **__: object) -> object:
        raise ImportError("uvicorn is not installed")

    monkeypatch.setattr(_server, "make_server", no_server)
    with pytest.raises(ImportError) as caught:
        platform.start()
    assert "uvicorn" in str(caught.value)
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind(("127.0.0.1", platform.port))
        probe.listen(1)
    finally:
        probe.close()
    monkeypatch.setattr(_server, "make_server", real_make_server)
    with platform:
        assert platform.port != 0
