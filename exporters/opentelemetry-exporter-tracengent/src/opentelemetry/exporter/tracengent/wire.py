"""The wire contract's data model: events, decisions and their (de)serialization.

Serialization follows the contract to the byte: camelCase keys in the contract's order, null
fields omitted, compact JSON. Parsing of decisions is strict: only an unambiguous allow allows;
anything malformed becomes a deny whose reason says what was wrong (it never raises).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from enum import Enum
from numbers import Real
from typing import Any, Final

from opentelemetry.exporter.tracengent.attributes import EventStatuses
from opentelemetry.exporter.tracengent.jsonvalue import (
    JsonInput,
    JsonObject,
    finite_float,
)
from opentelemetry.exporter.tracengent.redaction import Redaction, json_document, parse_path

__all__ = [
    "Actor",
    "AgentEvent",
    "AuthDecision",
    "AuthObligations",
    "LlmCallResult",
    "Money",
    "ToolDecision",
    "TraceClose",
    "Usage",
    "currency_text",
    "format_timestamp",
    "merge_tags",
    "usable_approval_id",
    "utc_now_iso",
]


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 UTC with microseconds, as the contract writes it (`...T10:15:02.123456+00:00`)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def utc_now_iso() -> str:
    """Now, formatted by `format_timestamp`."""
    return format_timestamp(datetime.now(timezone.utc))


def merge_tags(
    environment: str, default_tags: Iterable[str], own: Iterable[str] | None
) -> list[str]:
    """The environment tag first, then the default tags, then the event's own, de-duplicated."""
    merged: list[str] = []
    seen: set[str] = set()
    for tag in (environment, *default_tags, *(own or ())):
        if isinstance(tag, str) and tag and tag not in seen:
            seen.add(tag)
            merged.append(tag)
    return merged


def _number_in_text(text: str) -> float | None:
    """The finite number `text` reads as (`"12.50"` is 12.5), or None."""
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def currency_text(currency: object) -> object:
    """`currency` as plain text when it stands for text: an `Enum` member for its value, a `str`
    subclass for its characters; anything else as given (the caller decides what is sendable)."""
    if isinstance(currency, Enum):
        currency = currency.value
    if isinstance(currency, str) and type(currency) is not str:
        # `str.__str__`, not `str()`: a str-mixin enum's `__str__` may be its member name.
        currency = str.__str__(currency)
    return currency


def _user_id_text(user_id: object) -> object:
    """`user_id` as plain text when it is text or a finite number (not a `bool`), else as given."""
    if isinstance(user_id, str):
        # `str.__str__`, not `str()`: a str-mixin enum's `__str__` may be its member name.
        return user_id if type(user_id) is str else str.__str__(user_id)
    if isinstance(user_id, bool):
        return user_id
    if isinstance(user_id, int):
        return str(user_id)
    if not isinstance(user_id, (Real, Decimal)):
        return user_id
    try:
        finite = math.isfinite(float(user_id))
    except (OverflowError, ValueError):  # beyond the float range; a signalling Decimal NaN
        finite = False
    return str(user_id) if finite else user_id


@dataclass(frozen=True)
class Money:
    """An amount of money.

    The constructor never raises: 0.1.0 accepted any values, and telemetry never takes the agent
    down. What can be read one way only is converted; anything else is kept as given, and an
    event carrying such a `Money` is recorded without its cost (logged, and counted in the
    client's `misuse_count`), never with a wrong one.

    Attributes:
        amount: a finite number: `int`, `float`, `decimal.Decimal` or another `numbers.Real`
            (not a `bool`), kept as given. Text that reads as a finite number (`"12.50"`) is
            converted to that number, a `float`, as 0.1.0 sent it. Not sendable: NaN, infinite
            or beyond the float range, a `bool`, other text, `None` or any other object.
        currency: an ISO 4217 code (`"EUR"`), text that is not blank, kept as plain `str`. An
            `Enum` member whose value is such text (a `StrEnum` of currencies, say) stands for
            its value. Not sendable: blank text, `None` or any other object (the cost would
            otherwise go out in USD, the wire's default).
    """

    amount: float
    currency: str = "USD"

    def __post_init__(self) -> None:
        amount: object = self.amount
        if isinstance(amount, str):
            number = _number_in_text(amount)
            if number is not None:
                object.__setattr__(self, "amount", number)
        object.__setattr__(self, "currency", currency_text(self.currency))

    @classmethod
    def eur(cls, amount: float) -> Money:
        """An amount in euros."""
        return cls(amount, "EUR")

    @classmethod
    def usd(cls, amount: float) -> Money:
        """An amount in US dollars."""
        return cls(amount, "USD")

    def to_wire(self) -> JsonObject:
        """`{"amount", "currency"}`; an amount that is neither `int` nor `float` (a `Decimal`)
        as the `float` the client sends, so the object is JSON."""
        amount: object = self.amount
        if not isinstance(amount, (int, float)) and isinstance(amount, (Real, Decimal)):
            # A signalling NaN does not convert: not sendable anyway, kept as given.
            with contextlib.suppress(ValueError, OverflowError):
                amount = float(amount)
        return {"amount": amount, "currency": self.currency}  # type: ignore[dict-item]


@dataclass(frozen=True)
class Usage:
    """Token usage of an LLM call."""

    tokens: int
    model: str | None = None

    def to_wire(self) -> JsonObject:
        """`{"tokens", "model"?}`."""
        wire: JsonObject = {"tokens": self.tokens}
        if self.model is not None:
            wire["model"] = self.model
        return wire


@dataclass(frozen=True)
class Actor:
    """The end user an agent acts for.

    The constructor never raises (0.1.0 accepted any value). `user_id` is text, kept as plain
    `str`; a finite number (not a `bool`: an `int` database id, say) stands for its text
    (`Actor(42)` is `Actor("42")`). Any other value (empty or blank text, `None`, a `bool`, NaN,
    another object) is kept as given, and an event carrying such an actor is recorded without it (logged, and
    counted in the client's `misuse_count`).
    """

    user_id: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "user_id", _user_id_text(self.user_id))

    def to_wire(self) -> JsonObject:
        """`{"userId"}`."""
        return {"userId": self.user_id}


@dataclass(frozen=True)
class LlmCallResult:
    """What a callable given to `track_llm_call` returns: its value and the usage to record."""

    value: Any
    tokens: int
    model: str | None = None
    cost: Money | None = None


@dataclass
class AgentEvent:
    """One event of the wire contract (§2). `type`, `name` and `status` are required on the wire.

    The client fills `event_id`, `agent_id`, `occurred_at` and the trace fields when they are left
    empty. `occurred_at` is ISO-8601 UTC text; a `datetime` given instead is recorded so
    formatted (a naive one taken as UTC).
    """

    name: str
    type: str
    status: str = EventStatuses.SUCCESS
    event_id: str | None = None
    idempotency_key: str | None = None
    agent_id: str | None = None
    trace_id: str | None = None
    parent_event_id: str | None = None
    cost: Money | None = None
    usage: Usage | None = None
    actor: Actor | None = None
    # `JsonInput`: a payload held in a typed variable (`dict[str, str]`) is one (0.1.0 usage).
    input: JsonInput = None
    output: JsonInput = None
    attributes: Mapping[str, JsonInput] | None = None
    occurred_at: str | None = None
    duration_ms: float | None = None
    tags: list[str] = field(default_factory=list)
    root_request: str | None = None

    def to_wire(self) -> JsonObject:
        """The event as a wire object: camelCase, contract order, nulls omitted."""
        wire: JsonObject = {}
        if self.event_id is not None:
            wire["eventId"] = self.event_id
        if self.idempotency_key is not None:
            wire["idempotencyKey"] = self.idempotency_key
        if self.agent_id is not None:
            wire["agentId"] = self.agent_id
        if self.trace_id is not None:
            wire["traceId"] = self.trace_id
        if self.parent_event_id is not None:
            wire["parentEventId"] = self.parent_event_id
        wire["type"] = self.type
        wire["name"] = self.name
        wire["status"] = self.status
        if self.cost is not None:
            wire["cost"] = self.cost.to_wire()
        if self.usage is not None:
            wire["usage"] = self.usage.to_wire()
        if self.actor is not None:
            wire["actor"] = self.actor.to_wire()
        if self.input is not None:
            wire["input"] = json_document(self.input)
        if self.output is not None:
            wire["output"] = json_document(self.output)
        if self.attributes is not None:
            wire["attributes"] = json_document(self.attributes)
        occurred_at: object = self.occurred_at
        if isinstance(occurred_at, datetime):
            # A `datetime` (documented above) is formatted as the client records it.
            wire["occurredAt"] = format_timestamp(occurred_at)
        elif self.occurred_at is not None:
            wire["occurredAt"] = self.occurred_at
        if self.duration_ms is not None:
            wire["durationMs"] = self.duration_ms
        if self.tags:
            wire["tags"] = list(self.tags)
        if self.root_request is not None:
            wire["rootRequest"] = self.root_request
        return wire


@dataclass(frozen=True)
class TraceClose:
    """The trace close of §3, sent once after a decision trace's events."""

    trace_id: str
    agent_id: str
    status: str
    occurred_at: str
    root_request: str | None = None
    summary: str | None = None

    def to_wire(self) -> JsonObject:
        """`{"traceId", "agentId", "rootRequest"?, "op": "Close", "status", "occurredAt", "summary"?}`."""
        wire: JsonObject = {"traceId": self.trace_id, "agentId": self.agent_id}
        if self.root_request is not None:
            wire["rootRequest"] = self.root_request
        wire["op"] = "Close"
        wire["status"] = self.status
        wire["occurredAt"] = self.occurred_at
        if self.summary is not None:
            wire["summary"] = self.summary
        return wire


def _opt_str(raw: Mapping[str, object], key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) else None


def _opt_number(raw: Mapping[str, object], key: str) -> float | None:
    return finite_float(raw.get(key))


def _str_list(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


_UNUSABLE_IDS: Final = frozenset({"", ".", ".."})


def usable_approval_id(value: object) -> str | None:
    """`value` when it can name an approval in `/v1/approvals/{id}`, else None.

    Not a string, empty, or a dot segment (`.`, `..`: a URL would resolve it to another path, so
    the poll would read some other endpoint's answer) is no approval id.
    """
    if not isinstance(value, str) or value.strip() in _UNUSABLE_IDS:
        return None
    return value


@dataclass(frozen=True)
class AuthObligations:
    """Conditions attached to an allow: limits, the currency they are in, fields to redact."""

    max_amount: float | None = None
    require_approval_over: float | None = None
    redact_fields: list[str] = field(default_factory=list)
    currency: str | None = None

    @classmethod
    def from_wire(cls, raw: object) -> AuthObligations | None:
        """Parse `{"maxAmount", "requireApprovalOver", "currency", "redactFields"}`; None if absent
        or malformed (`problem_of` says what is wrong with it)."""
        if not isinstance(raw, Mapping) or cls.problem_of(raw) is not None:
            return None
        return cls(
            max_amount=_opt_number(raw, "maxAmount"),
            require_approval_over=_opt_number(raw, "requireApprovalOver"),
            redact_fields=_str_list(raw.get("redactFields")),
            currency=_opt_str(raw, "currency"),
        )

    @staticmethod
    def problem_of(raw: object) -> str | None:
        """Why `raw` is not a well-formed obligations object (absent or null is fine), or None.

        An allow carrying obligations the SDK cannot read must not go ahead without them: a limit
        it cannot enforce, or fields to redact it cannot name, would be silently dropped.
        """
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            return f"'obligations' must be an object, got {type(raw).__name__}"
        for key in ("maxAmount", "requireApprovalOver"):
            value = raw.get(key)
            if value is not None and _opt_number(raw, key) is None:
                return f"'obligations.{key}' must be a finite number, got {value!r}"
        currency = raw.get("currency")
        if currency is not None and not isinstance(currency, str):
            return f"'obligations.currency' must be a string, got {currency!r}"
        fields = raw.get("redactFields")
        if fields is None:
            return None
        if not isinstance(fields, list):
            return f"'obligations.redactFields' must be a list of paths, got {fields!r}"
        for path in fields:
            if parse_path(path) is None:
                return f"'obligations.redactFields' holds a path that cannot be applied: {path!r}"
        return None


_DECISION_STATUSES = frozenset({"allowed", "denied", "pending_approval"})


def _decision_problem(raw: object) -> str | None:
    """Why `raw` is not a well-formed decision, or None when it is one."""
    if not isinstance(raw, Mapping):
        return f"expected a JSON object, got {type(raw).__name__}"
    allowed = raw.get("allowed")
    if allowed is not True and allowed is not False:
        return f"'allowed' must be true or false, got {allowed!r}"
    status = raw.get("status")
    # isinstance first: an unhashable status (a list) must not raise out of the membership test.
    if not isinstance(status, str) or status not in _DECISION_STATUSES:
        return f"'status' must be one of allowed/denied/pending_approval, got {status!r}"
    if allowed is True and status != "allowed":
        return f"'allowed' is true but 'status' is {status!r}"
    if allowed is False and status == "allowed":
        return "'allowed' is false but 'status' is 'allowed'"
    return None


def _approval_id_problem(raw: Mapping[str, object]) -> str | None:
    """Why a pending decision cannot be waited for (its `approvalId` names no approval), or None.

    README (Governance): such an answer is a deny, never a pending decision without an id.
    """
    if raw["status"] != "pending_approval" or usable_approval_id(raw.get("approvalId")) is not None:
        return None
    return f"a pending approval without an approval id: 'approvalId' is {raw.get('approvalId')!r}"


def _outcome_problem(raw: Mapping[str, object]) -> str | None:
    """Why an allowing tool decision contradicts itself (its `outcome` names a deny, as
    `policy_deny` and `egress_deny` do), or None: such an answer is no unambiguous allow."""
    outcome = raw.get("outcome")
    if raw["allowed"] is True and isinstance(outcome, str) and outcome.endswith("_deny"):
        return f"'allowed' is true but 'outcome' is {outcome!r}"
    return None


@dataclass(frozen=True)
class AuthDecision:
    """The answer to `/v1/authorize` (§4). `allowed` is True only for an unambiguous allow."""

    allowed: bool
    reason: str = ""
    obligations: AuthObligations | None = None
    decision_id: str | None = None
    status: str = "denied"
    approval_id: str | None = None
    acting_for: str | None = None
    chain: list[str] = field(default_factory=list)

    @property
    def pending(self) -> bool:
        """True when the decision waits for a person's approval."""
        return self.status == "pending_approval"

    @classmethod
    def deny(cls, reason: str) -> AuthDecision:
        """A deny made by the SDK itself (fail closed), with the reason why."""
        return cls(allowed=False, reason=reason, status="denied")

    @classmethod
    def from_wire(cls, raw: object) -> AuthDecision:
        """Parse a decision strictly; a malformed one is a deny naming what was wrong. Never raises."""
        problem = _decision_problem(raw)
        if problem is None and isinstance(raw, Mapping) and raw["status"] != "denied":
            # An allow, or an approval that would become one, keeps its obligations or is none.
            problem = AuthObligations.problem_of(raw.get("obligations")) or _approval_id_problem(
                raw
            )
        if problem is not None or not isinstance(raw, Mapping):
            return cls.deny(f"malformed decision from the platform: {problem}")
        status = str(raw["status"])
        return cls(
            allowed=raw["allowed"] is True,
            reason=_opt_str(raw, "reason") or "",
            obligations=AuthObligations.from_wire(raw.get("obligations")),
            decision_id=_opt_str(raw, "decisionId"),
            status=status,
            approval_id=usable_approval_id(raw.get("approvalId")),
            acting_for=_opt_str(raw, "actingFor"),
            chain=_str_list(raw.get("chain")),
        )


@dataclass(frozen=True)
class ToolDecision:
    """The answer to `/v1/tool-authorize` (§6). `allowed` is True only for an unambiguous allow."""

    allowed: bool
    status: str = "denied"
    outcome: str | None = None
    reason: str = ""
    permission: str | None = None
    decision_id: str | None = None
    approval_id: str | None = None
    redactions: list[Redaction] = field(default_factory=list)

    @property
    def pending(self) -> bool:
        """True when the tool call waits for a person's approval."""
        return self.status == "pending_approval"

    @classmethod
    def deny(cls, reason: str, outcome: str = "sdk_deny") -> ToolDecision:
        """A deny made by the SDK itself (fail closed); `outcome` says which failure."""
        return cls(allowed=False, status="denied", outcome=outcome, reason=reason)

    @classmethod
    def from_wire(cls, raw: object) -> ToolDecision:
        """Parse a tool decision strictly; malformed → deny naming what was wrong. Never raises."""
        problem = _decision_problem(raw)
        if problem is None and isinstance(raw, Mapping):
            problem = _approval_id_problem(raw) or _outcome_problem(raw)
        if problem is not None or not isinstance(raw, Mapping):
            return cls.deny(
                f"malformed tool decision from the platform: {problem}", "malformed_decision"
            )
        redactions_raw = raw.get("redactions")
        redactions: list[Redaction] = []
        if isinstance(redactions_raw, list):
            for item in redactions_raw:
                parsed = Redaction.from_wire(item)
                if parsed is None and raw["allowed"] is True:
                    # A redaction we cannot apply must not let the unredacted body leave.
                    return cls.deny(
                        f"malformed tool decision from the platform: bad redaction {item!r}",
                        "malformed_decision",
                    )
                if parsed is not None:
                    redactions.append(parsed)
        elif redactions_raw is not None and raw["allowed"] is True:
            return cls.deny(
                "malformed tool decision from the platform: 'redactions' must be a list",
                "malformed_decision",
            )
        return cls(
            allowed=raw["allowed"] is True,
            status=str(raw["status"]),
            outcome=_opt_str(raw, "outcome"),
            reason=_opt_str(raw, "reason") or "",
            permission=_opt_str(raw, "permission"),
            decision_id=_opt_str(raw, "decisionId"),
            approval_id=usable_approval_id(raw.get("approvalId")),
            redactions=redactions,
        )
