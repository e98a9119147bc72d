"""The default event name of a decorated callable that has no `__name__` of its own: a
`functools.partial`'s function's name, a callable object's class name (not "call")."""

from __future__ import annotations

import functools

from opentelemetry.exporter.tracengent import attributes as A
from tests.unit.traces.conftest import Harness
from tracengent._decorators import client_decorator


def search(index: str, query: str) -> list[str]:
    """A tool taking the index it searches."""
    return [index, query]


class Translator:
    """A tool object."""

    async def __call__(self, text: str) -> str:
        return text[::-1]


async def test_partial_and_callable_object_are_named_after_what_they_call(
    harness: Harness,
) -> None:
    """Each event is named after the function or class, as the decorator's docstring says."""
    tool = client_decorator(harness.recorder, A.EventTypes.TOOL_CALL, None, None)
    assert tool(functools.partial(search, "docs"))(query="q") == ["docs", "q"]
    assert await tool(functools.partial(Translator()))("ab") == "ba"
    assert await tool(Translator())("cd") == "dc"
    assert [span.name for span in harness.spans()] == ["search", "Translator", "Translator"]
