"""The `tracengent_platform` fixture without the `platform` extra says which extra to install."""

from __future__ import annotations

import sys

import pytest


def test_the_fixture_without_the_platform_extra_names_the_extra(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing dependency of the extra (PyJWT here) is an ImportError naming
    `pip install 'tracengent[platform]'`, not a bare 'No module named jwt'."""
    loaded = set(sys.modules)
    monkeypatch.setitem(sys.modules, "jwt", None)
    for name in [n for n in sys.modules if n.startswith("tracengent.platform")]:
        monkeypatch.delitem(sys.modules, name)
    try:
        with pytest.raises(ImportError, match=r"pip install 'tracengent\[platform\]'") as raised:
            request.getfixturevalue("tracengent_platform")
    finally:
        # What the failed import left behind goes too (monkeypatch restores the rest).
        for name in set(sys.modules) - loaded:
            del sys.modules[name]
    assert raised.value.name == "jwt"
