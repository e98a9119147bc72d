"""Decorators applied above `@classmethod` / `@staticmethod` keep the method what it was."""

from __future__ import annotations

import json

from opentelemetry.exporter.tracengent import attributes as A
from tests.unit.traces.conftest import Harness
from tracengent._decorators import client_decorator


def test_decorator_above_classmethod_and_staticmethod(harness: Harness) -> None:
    """`@client.tool()` over `@classmethod`/`@staticmethod` binds as the method would, from the
    class and from an instance, and records its arguments (without `cls`)."""
    tool = client_decorator(harness.recorder, A.EventTypes.TOOL_CALL, None, None)

    class Catalog:
        prefix = "sku"

        @tool
        @classmethod
        def code(cls, item: str) -> str:
            return f"{cls.prefix}-{item}"

        @tool
        @staticmethod
        def double(n: int) -> int:
            return n * 2

    assert Catalog.code("a") == "sku-a"
    assert Catalog().code("b") == "sku-b"
    assert Catalog.double(2) == 4
    assert Catalog().double(3) == 6
    inputs = [
        (span.name, json.loads(str((span.attributes or {})[A.INPUT]))) for span in harness.spans()
    ]
    assert inputs == [
        ("code", {"item": "a"}),
        ("code", {"item": "b"}),
        ("double", {"n": 2}),
        ("double", {"n": 3}),
    ]


async def test_decorator_above_async_staticmethod_awaits_it(harness: Harness) -> None:
    """An async static method under the decorator is awaited: its event holds its result."""
    tool = client_decorator(harness.recorder, A.EventTypes.TOOL_CALL, "fetch", None)

    class Api:
        @tool
        @staticmethod
        async def fetch(key: str) -> str:
            return key.upper()

    assert await Api().fetch("k") == "K"
    assert harness.attr("fetch", A.OUTPUT) == '"K"'
