"""Inflating a gzip body of many members reads each byte of it a bounded number of times: a body
of hundreds of thousands of empty members (within the size limit) must not stall the platform."""

from __future__ import annotations

import gzip
import zlib

import pytest

from tracengent.platform import _ingest
from tracengent.platform._ingest import IngestError, decode_body


class _CountingInflater:
    """A gzip decompressor that adds the length of every input it is handed to `fed`."""

    fed = 0

    def __init__(self, wbits: int) -> None:
        self._inner = zlib.decompressobj(wbits=wbits)

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        _CountingInflater.fed += len(data)
        return self._inner.decompress(data, max_length)

    @property
    def eof(self) -> bool:
        return self._inner.eof

    @property
    def unused_data(self) -> bytes:
        return self._inner.unused_data

    @property
    def unconsumed_tail(self) -> bytes:
        return self._inner.unconsumed_tail


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> type[_CountingInflater]:
    """`_ingest`'s zlib decompressors count the input they are fed."""
    _CountingInflater.fed = 0

    class _Zlib:
        error = zlib.error
        MAX_WBITS = zlib.MAX_WBITS

        @staticmethod
        def decompressobj(wbits: int = zlib.MAX_WBITS) -> _CountingInflater:
            return _CountingInflater(wbits)

    monkeypatch.setattr(_ingest, "zlib", _Zlib)
    return _CountingInflater


def test_many_members_are_each_fed_once(counting: type[_CountingInflater]) -> None:
    """20 000 empty members after the document: every member decoded, the input fed to the
    decompressors at most a few times its size (not once per member it follows)."""
    body = gzip.compress(b'[{"a": 1}]') + gzip.compress(b"") * 20_000
    assert decode_body(body, "gzip") == [{"a": 1}]
    assert counting.fed <= 4 * len(body)


def test_one_large_member_is_fed_once(counting: type[_CountingInflater]) -> None:
    """A single member of a megabyte is decoded whole, its input fed about once."""
    document = b"[" + b"1," * 500_000 + b"1]"
    body = gzip.compress(document)
    assert decode_body(body, "gzip") == [1] * 500_001
    assert counting.fed <= 2 * len(body)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", "bad gzip"),
        (gzip.compress(b"[1]") + b"\x1f", "bad gzip"),
        (gzip.compress(b"[1]") + b"\x00\x00", "bad gzip"),
        (gzip.compress(b"[1]")[:-1], "bad gzip"),
    ],
)
def test_truncated_or_trailing_bytes_stay_refused(body: bytes, error: str) -> None:
    """An empty body, a member cut short or bytes that are no member are still `bad gzip`."""
    with pytest.raises(IngestError) as caught:
        decode_body(body, "gzip")
    assert caught.value.error == error
