"""A decorated tool's input keeps the arguments that can be sent when another one cannot (a
framework's context object as first argument): it is not left out whole."""

from __future__ import annotations

import json

from opentelemetry.exporter.tracengent import attributes as A
from tests.unit.traces.conftest import Harness
from tracengent._decorators import client_decorator


class RunContext:
    """What agent frameworks hand a tool first: no JSON value."""


def test_unencodable_argument_leaves_the_others_in_the_input(harness: Harness) -> None:
    """The input holds the query and the limit; the context object alone is left out."""

    @client_decorator(harness.recorder, A.EventTypes.TOOL_CALL, None, None)
    def search(ctx: RunContext, query: str, limit: int = 5) -> list[str]:
        return [query] * limit

    assert search(RunContext(), "flights", limit=1) == ["flights"]
    assert json.loads(str(harness.attr("search", A.INPUT))) == {"query": "flights", "limit": 1}


def test_redaction_still_applies_to_the_arguments_kept(harness: Harness) -> None:
    """Sensitive argument names are masked in the input that is kept."""

    @client_decorator(harness.recorder, A.EventTypes.TOOL_CALL, None, None)
    def pay(ctx: RunContext, card: str, password: str) -> str:
        return "ok"

    pay(RunContext(), "4111", password="hunter2")
    sent = json.loads(str(harness.attr("pay", A.INPUT)))
    assert sent["card"] == "4111"
    assert sent["password"] != "hunter2"
