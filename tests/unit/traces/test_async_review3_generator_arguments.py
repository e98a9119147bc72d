"""Calling a decorated generator function with arguments it does not take raises at the call, as
calling the function itself does (not at the first item, as a failed event)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.unit.traces.conftest import Harness


def test_a_generator_called_with_wrong_arguments_raises_at_the_call(harness: Harness) -> None:
    with harness.begin() as trace:

        @trace.tool("lines")
        def lines(count: int) -> Iterator[int]:
            yield from range(count)

        @trace.tool("chunks")
        async def chunks(count: int) -> AsyncIterator[int]:
            for index in range(count):
                yield index

        with pytest.raises(TypeError):
            lines(1, 2)  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            chunks()  # type: ignore[call-arg]
    # Nothing ran: no event either.
    assert [span.name for span in harness.spans()] == ["invoke_agent agent-under-test"]
