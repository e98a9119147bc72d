"""A JSON decoder that reads thousands of nesting levels, as Python 3.13's standard decoder does,
on every Python version: what the depth bounds must not depend on."""

from __future__ import annotations

import json
import json.scanner
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def deep_reading_decoder() -> Iterator[json.JSONDecoder]:
    """A decoder scanning in Python (its nesting bounded by the recursion limit alone, raised
    here to 20 000 until the block ends): about 6 000 levels read, whatever C limit this
    interpreter's own scanner has."""
    decoder = json.JSONDecoder()
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        yield decoder
    finally:
        sys.setrecursionlimit(limit)
