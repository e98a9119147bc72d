"""A strict reader of TOML tables: every value type-checked, every error naming its dotted key."""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry.exporter.tracengent.errors import TracengentConfigError
from opentelemetry.exporter.tracengent.jsonvalue import finite_float

__all__ = ["PolicyError", "TomlTable"]


class PolicyError(TracengentConfigError):
    """The policy file is invalid; the message names the key and what was expected."""


class TomlTable:
    """A TOML table read key by key; every error names the dotted key."""

    def __init__(self, raw: Mapping[str, object], path: str) -> None:
        self.raw = raw
        self.path = path
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def get(self, name: str) -> object:
        self.used.add(name)
        return self.raw.get(name)

    def string(self, name: str, *, default: str | None = None, required: bool = False) -> str:
        value = self.get(name)
        if value is None:
            if required or default is None:
                raise PolicyError(f"{self.key(name)!r} is required (expected a string)")
            return default
        if not isinstance(value, str) or not value.strip():
            raise PolicyError(f"{self.key(name)!r}: expected a non-empty string, got {value!r}")
        return value

    def optional_string(self, name: str) -> str | None:
        if self.get(name) is None:
            return None
        return self.string(name)

    def boolean(self, name: str, *, default: bool) -> bool:
        value = self.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise PolicyError(f"{self.key(name)!r}: expected true or false, got {value!r}")
        return value

    def number(self, name: str, *, minimum: float = 0.0) -> float | None:
        value = self.get(name)
        if value is None:
            return None
        # TOML has `nan` and `inf`: NaN passes every comparison (a limit or rate that never
        # denies), and an infinite limit or rate is no limit at all.
        number = finite_float(value)
        if number is None or number < minimum:
            raise PolicyError(
                f"{self.key(name)!r}: expected a finite number >= {minimum:g}, got {value!r}"
            )
        return number

    def integer(self, name: str, *, default: int | None = None, minimum: int = 1) -> int | None:
        value = self.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise PolicyError(
                f"{self.key(name)!r}: expected an integer >= {minimum}, got {value!r}"
            )
        return value

    def strings(self, name: str) -> tuple[str, ...]:
        value = self.get(name)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise PolicyError(f"{self.key(name)!r}: expected an array of strings, got {value!r}")
        return tuple(value)

    def permission(self, name: str) -> str:
        """A required permission (a tool's or route's): one permission, not a pattern."""
        value = self.string(name, required=True)
        if "*" in value or _malformed_permission(value):
            raise PolicyError(
                f"{self.key(name)!r}: expected one permission like 'payments:refund', got {value!r}"
            )
        return value

    def permission_pattern(self, name: str) -> str:
        """A required permission pattern (wire contract §9: `*`, `ns:*` or exact)."""
        value = self.string(name, required=True)
        _check_pattern(self.key(name), value)
        return value

    def permission_patterns(self, name: str) -> tuple[str, ...]:
        """An array of permission patterns (wire contract §9)."""
        values = self.strings(name)
        for value in values:
            _check_pattern(self.key(name), value)
        return values

    def table(self, name: str) -> TomlTable:
        value = self.get(name)
        if value is None:
            return TomlTable({}, self.key(name))
        if not isinstance(value, dict):
            raise PolicyError(f"{self.key(name)!r}: expected a table, got {value!r}")
        return TomlTable(value, self.key(name))

    def tables(self, name: str) -> list[TomlTable]:
        value = self.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise PolicyError(f"{self.key(name)!r}: expected an array of tables ([[{name}]])")
        return [TomlTable(v, f"{self.key(name)}[{i}]") for i, v in enumerate(value)]

    def done(self) -> None:
        unknown = sorted(set(self.raw) - self.used)
        if unknown:
            raise PolicyError(f"{self.key(unknown[0])!r}: unknown key")


def _malformed_permission(value: str) -> bool:
    return any(c.isspace() or not c.isprintable() for c in value)


def _check_pattern(key: str, pattern: str) -> None:
    """Refuse a pattern the matcher never matches as written (`payments*`, `*:refund`, a space):
    in a rule it would cover nothing, its limits silently lifted."""
    stem = pattern[:-2] if pattern.endswith(":*") else pattern
    if pattern != "*" and (not stem or "*" in stem or _malformed_permission(pattern)):
        raise PolicyError(
            f"{key!r}: expected a permission pattern ('*', 'ns:*' or exact like "
            f"'payments:refund'), got {pattern!r}"
        )
