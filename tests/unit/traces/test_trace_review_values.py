"""Values the agent hands over are checked when recorded, or cleaned as the SDK cleans them.

`Money` and `Actor` convert what reads one way only (numeric text, a number's text) and never
raise (0.1.0 accepted any values); what the wire cannot carry is left out of the event when it
is recorded, counted as misuse. The recorder's fast span path cleans attribute values that are
not plain scalars exactly as the SDK's own span does, so processors and exporters never see raw
objects.
"""

from __future__ import annotations

import datetime
import enum
import math
import uuid
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

import pytest
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.trace import SpanKind

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent.wire import Actor, AgentEvent, Money
from tests.unit.traces.conftest import ClientHarness, Harness
from tracengent._direct_spans import DirectSpans
from tracengent._processors.context import ContextProcessor


class _Currency(enum.Enum):
    EUR = "EUR"


class _TextCurrency(str, enum.Enum):
    GBP = "GBP"


class _Numbered(enum.Enum):
    EUR = 978


# --- Money -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        (120, None),
        (120, 978),
        (120, _Numbered.EUR),
        (120, ""),
        (120, "  "),
        ("abc", "USD"),
        (None, "USD"),
        (True, "USD"),
        (math.nan, "USD"),
        (-math.inf, "USD"),
        (Decimal("NaN"), "USD"),
        pytest.param(10**400, "USD", id="beyond-float-range"),
    ],
)
def test_money_keeps_what_the_wire_cannot_carry_without_raising(
    amount: object, currency: object, harness: Harness
) -> None:
    """A missing or non-text currency, a non-number or non-finite amount: accepted as in 0.1.0
    (telemetry never raises into the agent); the event goes out without its cost, counted as
    misuse, never with a wrong one."""
    money = Money(amount, currency)  # type: ignore[arg-type]
    with harness.begin() as trace:
        trace.record(AgentEvent("priced", "action", cost=money))
    assert harness.attr("priced", A.COST_AMOUNT) is None
    assert harness.attr("priced", A.COST_CURRENCY) is None
    assert (harness.recorder.misuse_guard.failures, harness.recorder.guard.failures) == (1, 0)


@pytest.mark.parametrize(
    ("money", "amount", "currency"),
    [
        (Money(42.5), 42.5, "USD"),
        (Money(0), 0, "USD"),
        (Money(-3, "EUR"), -3, "EUR"),
        # Typed `float` (as in 0.1.0), yet other real numbers always worked and still do.
        (Money(Decimal("19.99"), "EUR"), Decimal("19.99"), "EUR"),  # type: ignore[arg-type]
        (Money(Fraction(1, 4), "USD"), Fraction(1, 4), "USD"),  # type: ignore[arg-type]
        (Money.eur(2), 2, "EUR"),
        (Money.usd(1.5), 1.5, "USD"),
        # Text that reads as a finite number is that number, as 0.1.0 sent it.
        (Money("12.50"), 12.5, "USD"),  # type: ignore[arg-type]
    ],
)
def test_money_keeps_the_0_1_0_forms(money: Money, amount: object, currency: str) -> None:
    """Ints, floats, Decimals and other real numbers, with a currency code, are kept as given;
    numeric text is converted to its number."""
    assert money.amount == amount
    assert type(money.amount) is type(amount)
    assert money.currency == currency


@pytest.mark.parametrize("currency", [_Currency.EUR, _TextCurrency.GBP])
def test_a_currency_enum_stands_for_its_text_value(currency: enum.Enum) -> None:
    """An enum member whose value is the code is taken as that code, as plain text."""
    money = Money(120, currency)  # type: ignore[arg-type]
    assert money.currency == currency.value
    assert type(money.currency) is str
    assert money == Money(120, currency.value)


def test_an_enum_currency_reaches_the_platform_as_its_code(client_harness: ClientHarness) -> None:
    """The cost of an action goes out in the enum's currency (it went out as USD)."""
    client = client_harness.client
    with client.begin_trace("refund") as trace:
        trace.track_action("refund", lambda: 1, cost=Money(120, _Currency.EUR))  # type: ignore[arg-type]
    assert client.close(timeout=10)
    (event,) = client_harness.platform.events()
    assert event["cost"] == {"amount": 120.0, "currency": "EUR"}


# --- Actor and AgentEvent ----------------------------------------------------------------------


@pytest.mark.parametrize("user_id", [None, "", " ", True, math.nan, object()])
def test_an_actor_the_wire_cannot_carry_is_left_out_counted(
    user_id: object, harness: Harness
) -> None:
    """An actor whose `userId` cannot be text is accepted as in 0.1.0 (no raise); the event goes
    out without it, counted as misuse."""
    actor = Actor(user_id)  # type: ignore[arg-type]
    with harness.begin() as trace:
        trace.record(AgentEvent("acted", "action", actor=actor))
    assert harness.attr("acted", A.ACTOR_USER_ID) is None
    assert (harness.recorder.misuse_guard.failures, harness.recorder.guard.failures) == (1, 0)


@pytest.mark.parametrize(("user_id", "text"), [(42, "42"), (Decimal("7"), "7"), (2.5, "2.5")])
def test_a_number_user_id_stands_for_its_text(user_id: object, text: str) -> None:
    """An `int` database id (or another finite number, not a `bool`) is its text."""
    actor = Actor(user_id)  # type: ignore[arg-type]
    assert actor.user_id == text
    assert actor == Actor(text)


def test_a_str_subclass_user_id_is_kept_as_plain_text() -> None:
    """A `str` subclass (a str-mixin enum) is kept as its text, a plain `str`."""

    class _Users(str, enum.Enum):
        ALICE = "u-alice"

    actor = Actor(_Users.ALICE)
    assert actor.user_id == "u-alice"
    assert type(actor.user_id) is str


def test_a_datetime_occurred_at_is_recorded_as_the_contract_says(harness: Harness) -> None:
    """A `datetime` is recorded as ISO-8601 UTC text (a naive one taken as UTC), not its `str()`."""
    paris = datetime.timezone(datetime.timedelta(hours=1))
    with harness.begin() as trace:
        for name, moment in (
            ("naive", datetime.datetime(2024, 1, 1)),
            ("aware", datetime.datetime(2024, 1, 1, 1, tzinfo=paris)),
        ):
            trace.record(AgentEvent(name, "action", occurred_at=moment))  # type: ignore[arg-type]
        trace.record(AgentEvent("text", "action", occurred_at="2024-01-01"))
    assert harness.attr("naive", A.EVENT_OCCURRED_AT) == "2024-01-01T00:00:00.000000+00:00"
    assert harness.attr("aware", A.EVENT_OCCURRED_AT) == "2024-01-01T00:00:00.000000+00:00"
    assert harness.attr("text", A.EVENT_OCCURRED_AT) == "2024-01-01"


def test_a_trace_actor_that_is_not_text_is_counted_not_sent_silently(harness: Harness) -> None:
    """`begin_trace(actor_user_id=[...])`: no actor, one misuse counted (no event is lost)."""
    with harness.begin(actor_user_id=["u-42"]) as trace:  # type: ignore[arg-type]
        trace.step("s")
    assert harness.attr("s", A.ACTOR_USER_ID) is None
    assert (harness.recorder.misuse_guard.failures, harness.recorder.guard.failures) == (1, 0)


def test_a_trace_actor_number_stands_for_its_text(harness: Harness) -> None:
    """`begin_trace(actor_user_id=42)` (an `int` database id): the actor is `"42"`, as in `Actor`."""
    with harness.begin(actor_user_id=42) as trace:  # type: ignore[arg-type]
        trace.step("s")
    assert harness.attr("s", A.ACTOR_USER_ID) == "42"
    assert harness.recorder.misuse_guard.failures == 0


# --- the recorder's fast span path cleans as the SDK does --------------------------------------


class _Keep(SpanProcessor):
    def __init__(self) -> None:
        self.ended: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span)


class _NoStr:
    __slots__ = ()


_ODD_VALUES: dict[str, object] = {
    "datetime": datetime.datetime(2024, 1, 1),
    "enum": _Currency.EUR,
    "uuid": uuid.UUID(int=7),
    "decimal": Decimal("1.5"),
    "none": None,
    "object without str": _NoStr(),
    "tuple": ("a", "b"),
    "list": [1, 2],
    "str subclass": _TextCurrency.GBP,
}


def _ended_by(make: Callable[[SdkTracer, DirectSpans], None]) -> ReadableSpan:
    provider = TracerProvider()
    keep = _Keep()
    provider.add_span_processor(keep)
    tracer = provider.get_tracer("review")
    assert isinstance(tracer, SdkTracer)
    direct = DirectSpans.for_tracer(tracer, ContextProcessor())
    assert direct is not None
    make(tracer, direct)
    provider.shutdown()
    (span,) = keep.ended
    return span


def _sdk(value: object) -> ReadableSpan:
    def make(tracer: SdkTracer, _: DirectSpans) -> None:
        tracer.start_span("op", attributes={"plain": "x", "odd": value}).end()  # type: ignore[dict-item]

    return _ended_by(make)


@pytest.mark.parametrize("name", sorted(_ODD_VALUES))
def test_start_cleans_odd_values_as_the_sdk_does(name: str) -> None:
    """A live event span started with a value that is not a plain scalar holds what the SDK's
    span would hold (text, or nothing), with the same dropped count."""
    value = _ODD_VALUES[name]

    def make(_: SdkTracer, direct: DirectSpans) -> None:
        attrs = {"plain": "x", "odd": value}
        direct.start("op", None, SpanKind.INTERNAL, attrs).end()  # type: ignore[arg-type]

    direct_span, sdk_span = _ended_by(make), _sdk(value)
    assert dict(direct_span.attributes or {}) == dict(sdk_span.attributes or {})
    assert direct_span.dropped_attributes == sdk_span.dropped_attributes


@pytest.mark.parametrize("name", sorted(_ODD_VALUES))
def test_emit_cleans_odd_values_as_the_sdk_does(name: str) -> None:
    """A point event emitted with such a value holds what the SDK's span would hold."""
    value = _ODD_VALUES[name]

    def make(_: SdkTracer, direct: DirectSpans) -> None:
        direct.emit("op", {"plain": "x", "odd": value}, None, False)  # type: ignore[dict-item]

    direct_span, sdk_span = _ended_by(make), _sdk(value)
    assert dict(direct_span.attributes or {}) == dict(sdk_span.attributes or {})
    assert direct_span.dropped_attributes == sdk_span.dropped_attributes


def test_recorded_event_with_objects_reaches_exporters_as_text(harness: Harness) -> None:
    """An `AgentEvent` holding objects (a UUID id, an enum status) is recorded with their text,
    as an SDK span would hold them, never the objects themselves."""
    event_id = uuid.UUID(int=42)
    with harness.begin() as trace:
        trace.record(AgentEvent("note", "action", event_id=event_id))  # type: ignore[arg-type]
        trace.track_action("act", lambda: 1)
    assert harness.attr("note", A.EVENT_ID) == str(event_id)
    for span in harness.spans():
        for value in (span.attributes or {}).values():
            assert type(value) in {str, bool, int, float, tuple}, (span.name, value)


def test_a_cost_that_is_not_money_is_checked_as_money_is(harness: Harness) -> None:
    """A look-alike cost (not a `Money`) is checked as a `Money` is when recorded: an enum
    currency stands for its value, and an object never reaches exporters as it is."""

    class _LookAlike:
        amount = 5
        currency = _Currency.EUR

    with harness.begin() as trace:
        trace.track_action("act", lambda: 1, cost=_LookAlike())  # type: ignore[arg-type]
    assert harness.attr("act", A.COST_CURRENCY) == "EUR"
    assert harness.attr("act", A.COST_AMOUNT) == 5.0
