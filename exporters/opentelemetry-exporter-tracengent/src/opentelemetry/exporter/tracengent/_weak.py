"""Process hooks (`atexit`, `os.register_at_fork`) that do not keep their object alive.

`os.register_at_fork` keeps every hook for the life of the process, with no way to remove one:
a hook per client, exporter and processor would make a process that creates a client per
request grow by a little each time, for ever. `at_fork` keeps one process-wide pair of fork hooks
instead, over a list of weak entries that drops the entries of collected objects as it grows.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, Final, NamedTuple, TypeVar

__all__ = ["at_fork", "weak_hook"]

T = TypeVar("T")

_LOGGER = logging.getLogger("tracengent.export")


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


class _ForkEntry(NamedTuple):
    target: weakref.ref[Any]
    before: Callable[[Any], None] | None
    after_in_child: Callable[[Any], None] | None


class _ForkHooks:
    """The process's one pair of fork hooks and the entries they call (see `at_fork`)."""

    # Dead entries are dropped once the list is this much longer than after the last pruning.
    SLACK: Final = 16

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: list[_ForkEntry] = []
        self.live_after_pruning = 0
        self.registered = False

    def add(self, entry: _ForkEntry) -> None:
        with self.lock:
            if not self.registered:
                os.register_at_fork(before=self.before, after_in_child=self.after_in_child)
                self.registered = True
            if len(self.entries) >= 2 * self.live_after_pruning + self.SLACK:
                self.entries = [kept for kept in self.entries if kept.target() is not None]
                self.live_after_pruning = len(self.entries)
            self.entries.append(entry)

    def held(self) -> int:
        with self.lock:
            return len(self.entries)

    def before(self) -> None:
        # As `os.register_at_fork` calls `before` hooks: the last registered first.
        with self.lock:
            entries = list(self.entries)
        for entry in reversed(entries):
            _call(entry, entry.before, "before fork")

    def after_in_child(self) -> None:
        # Another thread of the parent may have held the lock at the fork: it never releases it
        # here. Then in registration order, as `os.register_at_fork` calls `after_in_child`.
        self.lock = threading.Lock()
        for entry in list(self.entries):
            _call(entry, entry.after_in_child, "after fork")


def _call(entry: _ForkEntry, method: Callable[[Any], None] | None, when: str) -> None:
    if method is None:
        return
    target = entry.target()
    if target is None:
        return
    try:
        method(target)
    except Exception:  # one object's hook must not keep the others' from running
        _LOGGER.warning("tracengent: a hook run %s failed", when, exc_info=True)


_FORK_HOOKS: Final = _ForkHooks()


def at_fork(
    target: T,
    *,
    before: Callable[[T], None] | None = None,
    after_in_child: Callable[[T], None] | None = None,
) -> None:
    """Call `before(target)` before each `os.fork()` and `after_in_child(target)` in the child,
    while `target` lives, as `os.register_at_fork` would (the last registered `before` runs
    first, `after_in_child` in registration order). Holds `target` weakly; the entry is dropped
    some time after `target` is collected. A no-op where the platform cannot fork."""
    if not hasattr(os, "register_at_fork"):
        return
    _FORK_HOOKS.add(_ForkEntry(weakref.ref(target), before, after_in_child))
