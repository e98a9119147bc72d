"""`LocalPlatform` serves loopback only, as `tracengent dev` does: its credentials may be public."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracengent.platform import LocalPlatform


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.com", ""])
def test_a_host_that_is_not_loopback_is_refused(tmp_path: Path, host: str) -> None:
    """Binding all interfaces (or any other address) is a ValueError, and nothing is served."""
    with pytest.raises(ValueError, match="not a loopback address"):
        LocalPlatform(tmp_path / "dev.sqlite3", host=host)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_a_loopback_host_is_accepted(tmp_path: Path, host: str) -> None:
    """The loopback names `tracengent dev --host` takes are accepted."""
    assert LocalPlatform(tmp_path / "dev.sqlite3", host=host).host == host
