"""Process hooks (`atexit`, `os.register_at_fork`) that do not keep their object alive."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TypeVar

__all__ = ["weak_hook"]

T = TypeVar("T")


def weak_hook(target: T, method: Callable[[T], None]) -> Callable[[], None]:
    """A no-argument hook calling `method(target)` while `target` lives; a no-op after.

    The process keeps its hooks for ever: a strong reference would keep every client, exporter
    or processor ever registered alive.
    """
    ref = weakref.ref(target)

    def hook() -> None:
        alive = ref()
        if alive is not None:
            method(alive)

    return hook
