"""Semantic attributes of Tracengent spans: the single source of truth for every attribute name.

OTel GenAI conventions are used where they exist (`gen_ai.*`), HTTP conventions for HTTP client
spans, and `tracengent.*` for the rest. No other module spells an attribute name.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.util.types import AttributeValue

from opentelemetry.exporter.tracengent._span_reads import DIRECT_SPAN as _DIRECT_SPAN
from opentelemetry.exporter.tracengent._span_reads import RECORDED_SPAN as _RECORDED_SPAN

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

# --- OTel GenAI semantic conventions -------------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
"""The GenAI operation: `invoke_agent` opens a decision trace, `chat` is an LLM call,
`execute_tool` a tool call."""
GEN_AI_AGENT_ID: Final = "gen_ai.agent.id"
"""The agent's id; on a decision-trace root it names the agent the trace is recorded under."""
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
"""The agent's human-readable name (a fallback for the agent id)."""
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
"""The model an LLM call asked for."""
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
"""The model that answered an LLM call (preferred over the requested one)."""
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
"""Input tokens of an LLM call; wire `usage.tokens` is input + output."""
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
"""Output tokens of an LLM call."""
GEN_AI_USAGE_PROMPT_TOKENS: Final = "gen_ai.usage.prompt_tokens"
"""Input tokens under their name before semantic conventions 1.27 (read when the new is absent)."""
GEN_AI_USAGE_COMPLETION_TOKENS: Final = "gen_ai.usage.completion_tokens"
"""Output tokens under their name before semantic conventions 1.27 (read when the new is absent)."""
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
"""The tool an `execute_tool` span ran."""
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
"""The arguments of a tool call (JSON), a payload attribute."""
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
"""The result of a tool call (JSON), a payload attribute."""
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
"""An LLM call's or agent invocation's input messages (JSON), a payload attribute."""
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
"""An LLM call's output messages (JSON), a payload attribute."""
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
"""An LLM call's system instructions (JSON), a payload attribute."""
GEN_AI_PROMPT_OLD: Final = "gen_ai.prompt"
"""Prompt text under its name before the GenAI message attributes, a payload attribute (also
written per message, `gen_ai.prompt.<n>.content`: `PAYLOAD_ATTRIBUTE_PREFIXES`)."""
GEN_AI_COMPLETION_OLD: Final = "gen_ai.completion"
"""Completion text under its name before the GenAI message attributes, a payload attribute."""
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
"""The GenAI provider (`openai`, ...)."""
GEN_AI_SYSTEM: Final = "gen_ai.system"
"""The GenAI system (older name of the provider attribute)."""

OPERATION_INVOKE_AGENT: Final = "invoke_agent"
"""`gen_ai.operation.name` of a span that opens a decision trace."""
OPERATION_CHAT: Final = "chat"
"""`gen_ai.operation.name` of an LLM chat call."""
OPERATION_TEXT_COMPLETION: Final = "text_completion"
"""`gen_ai.operation.name` of an LLM completion call."""
OPERATION_GENERATE_CONTENT: Final = "generate_content"
"""`gen_ai.operation.name` of an LLM content-generation call."""
OPERATION_EMBEDDINGS: Final = "embeddings"
"""`gen_ai.operation.name` of an LLM embeddings call."""
OPERATION_EXECUTE_TOOL: Final = "execute_tool"
"""`gen_ai.operation.name` of a tool call."""
LLM_OPERATIONS: Final = frozenset(
    {OPERATION_CHAT, OPERATION_TEXT_COMPLETION, OPERATION_GENERATE_CONTENT, OPERATION_EMBEDDINGS}
)
"""GenAI operations that are LLM calls (`llm_call` events)."""

# --- OTel HTTP semantic conventions (stable and the older names instrumentations still emit) --
HTTP_REQUEST_METHOD: Final = "http.request.method"
"""HTTP method of a client span."""
HTTP_METHOD_OLD: Final = "http.method"
"""HTTP method, pre-1.23 name."""
URL_FULL: Final = "url.full"
"""The full URL of a client request."""
HTTP_URL_OLD: Final = "http.url"
"""The full URL, pre-1.23 name."""
SERVER_ADDRESS: Final = "server.address"
"""The host a client request went to."""
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
"""The status code of a client request's answer."""
HTTP_STATUS_CODE_OLD: Final = "http.status_code"
"""The status code, pre-1.23 name."""

# --- Decision traces ------------------------------------------------------------------------
TRACE_ROOT_REQUEST: Final = "tracengent.trace.root_request"
"""On a decision-trace root: the request the agent is acting on. Stamped on the trace's first
event only, so the exporter sends `rootRequest` once."""
TRACE_SUMMARY: Final = "tracengent.trace.summary"
"""On a decision-trace root: the summary sent with the trace close."""
TRACE_STATUS: Final = "tracengent.trace.status"
"""On a decision-trace root: `completed` or `failed`, when set explicitly (`AgentTrace.complete`)."""
TRACE_ID: Final = "tracengent.trace.id"
"""The Tracengent trace id (`trc_...`) a span belongs to; stamped on every span of a decision trace."""
ACTOR_USER_ID: Final = "tracengent.actor.user_id"
"""The end user the agent acts for."""

# --- Events -----------------------------------------------------------------------------------
EVENT_TYPE: Final = "tracengent.event.type"
"""Marks a span as a Tracengent event: one of `EventType`."""
EVENT_NAME: Final = "tracengent.event.name"
"""The event's name when it differs from the span name."""
EVENT_STATUS: Final = "tracengent.event.status"
"""`success`, `failure` or `pending`; overrides the span status."""
EVENT_IDEMPOTENCY_KEY: Final = "tracengent.event.idempotency_key"
"""Idempotency key sent with the event."""
EVENT_INSTANT: Final = "tracengent.event.instant"
"""True for a point-in-time event (a step, a recorded event): no `durationMs`."""
EVENT_ID: Final = "tracengent.event.id"
"""An explicit event id (`evt_...`) given by the user's `AgentEvent`; otherwise derived."""
EVENT_PARENT_ID: Final = "tracengent.event.parent_id"
"""The event id this event follows in its decision trace (stamped at span start)."""
EVENT_ABSORBED: Final = "tracengent.event.absorbed"
"""True on a GenAI span (`chat`, `execute_tool`, ...) nested in a Tracengent event of its kind
(an `llm_call` / `tool_call` with `tracengent.event.type`, no other event between): the same
call, which that event already stands for, so it is not a second event (stamped at span start)."""
EVENT_TAGS: Final = "tracengent.event.tags"
"""The event's own tags (after the environment and default tags)."""
EVENT_OCCURRED_AT: Final = "tracengent.event.occurred_at"
"""An explicit ISO-8601 time given by the user's `AgentEvent`."""
EVENT_DURATION_MS: Final = "tracengent.event.duration_ms"
"""An explicit duration given by the user's `AgentEvent`."""
COST_AMOUNT: Final = "tracengent.cost.amount"
"""The cost of an event."""
COST_CURRENCY: Final = "tracengent.cost.currency"
"""The currency of the cost (ISO 4217, default USD)."""
USAGE_TOKENS: Final = "tracengent.usage.tokens"
"""Total tokens of an event when no GenAI usage attributes are set."""
USAGE_MODEL: Final = "tracengent.usage.model"
"""Model of an event when no GenAI model attribute is set."""
INPUT: Final = "tracengent.input"
"""The event's input (JSON), a payload attribute."""
OUTPUT: Final = "tracengent.output"
"""The event's output (JSON), a payload attribute."""
ATTRIBUTES: Final = "tracengent.attributes"
"""The event's free-form attributes (JSON object)."""
TRACKED: Final = "tracengent.tracked"
"""True on an HTTP client span made by a tracked client (a `tool_call` even outside a trace)."""

# --- Governance -------------------------------------------------------------------------------
AUTHZ_PERMISSION: Final = "tracengent.authz.permission"
"""The permission a governance decision was about."""
AUTHZ_STATUS: Final = "tracengent.authz.status"
"""`allowed`, `denied` or `pending_approval`."""
AUTHZ_REASON: Final = "tracengent.authz.reason"
"""Why, as the platform or the SDK (fail closed) said."""
AUTHZ_DECISION_ID: Final = "tracengent.authz.decision_id"
"""The platform's decision id (`dec_...`)."""
AUTHZ_APPROVAL_ID: Final = "tracengent.authz.approval_id"
"""The approval a pending decision waits for (`apr_...`)."""
AUTHZ_OUTCOME: Final = "tracengent.authz.outcome"
"""A tool decision's outcome (`policy_allow`, `egress_deny`, ...)."""
AUTHZ_TRANSPORT: Final = "tracengent.authz.transport"
"""A tool decision's transport: `http`, `mcp` or `function`."""
AUTHZ_FAIL_OPEN: Final = "tracengent.authz.fail_open"
"""True when a call proceeded because `tool_governance_fail_open` was chosen."""
DELEGATION_ACTING_FOR: Final = "tracengent.delegation.acting_for"
"""Who a delegated session acts for."""
DELEGATION_CHAIN: Final = "tracengent.delegation.chain"
"""The delegation chain of a delegated session."""
GOVERNANCE_KIND: Final = "tracengent.governance.kind"
"""Marks a governance span (`authorize`, `tool_authorize`, `approval_wait`, `attenuate`): never
exported as an event (the platform records decisions itself), always kept by the sampler."""

STRUCTURAL_ATTRIBUTES: Final = (
    GEN_AI_OPERATION_NAME,
    EVENT_TYPE,
    EVENT_ID,
    EVENT_IDEMPOTENCY_KEY,
    EVENT_PARENT_ID,
    EVENT_STATUS,
    EVENT_INSTANT,
    TRACE_ID,
    TRACE_STATUS,
    GOVERNANCE_KIND,
    TRACKED,
    GEN_AI_AGENT_ID,
)
"""The attributes that say what a span is and where its event belongs: no name glob masks them
(a `*id*` would otherwise turn every event's trace id into the mask), and a span trimmed by the
attribute count limit gets back those it started with (their values are ours or the
instrumentation's, never the agent's data)."""

PAYLOAD_ATTRIBUTES: Final = frozenset(
    {
        INPUT,
        OUTPUT,
        ATTRIBUTES,
        GEN_AI_TOOL_CALL_ARGUMENTS,
        GEN_AI_TOOL_CALL_RESULT,
        GEN_AI_INPUT_MESSAGES,
        GEN_AI_OUTPUT_MESSAGES,
        GEN_AI_SYSTEM_INSTRUCTIONS,
        GEN_AI_PROMPT_OLD,
        GEN_AI_COMPLETION_OLD,
    }
)
"""Attributes that carry payloads: subject to scrubbing, absent when capture is off (see also
`PAYLOAD_ATTRIBUTE_PREFIXES` and `is_payload_attribute`)."""
PAYLOAD_ATTRIBUTE_PREFIXES: Final = (f"{GEN_AI_PROMPT_OLD}.", f"{GEN_AI_COMPLETION_OLD}.")
"""Prefixes of payload attributes written per message (`gen_ai.prompt.0.content`, by
instrumentations that predate the GenAI message attributes); their `.role` parts are not text."""


def is_payload_attribute(key: str) -> bool:
    """Whether attribute `key` carries payload text (`PAYLOAD_ATTRIBUTES`, or a per-message
    prompt/completion part other than its role)."""
    return key in PAYLOAD_ATTRIBUTES or (
        key.startswith(PAYLOAD_ATTRIBUTE_PREFIXES) and not key.endswith(".role")
    )


class EventTypes:
    """The event types of the wire contract (0.1.0's names)."""

    ACTION: Final = "action"
    TOOL_CALL: Final = "tool_call"
    LLM_CALL: Final = "llm_call"
    DECISION: Final = "decision"
    ERROR: Final = "error"
    LIFECYCLE: Final = "lifecycle"
    ALL: Final = frozenset({ACTION, TOOL_CALL, LLM_CALL, DECISION, ERROR, LIFECYCLE})


class EventStatuses:
    """The event statuses of the wire contract (0.1.0's names)."""

    SUCCESS: Final = "success"
    FAILURE: Final = "failure"
    PENDING: Final = "pending"
    ALL: Final = frozenset({SUCCESS, FAILURE, PENDING})


class TraceStatuses:
    """Statuses of a trace close."""

    COMPLETED: Final = "completed"
    FAILED: Final = "failed"
    ALL: Final = frozenset({COMPLETED, FAILED})


class GovernanceKinds:
    """Values of `tracengent.governance.kind`."""

    AUTHORIZE: Final = "authorize"
    TOOL_AUTHORIZE: Final = "tool_authorize"
    APPROVAL_WAIT: Final = "approval_wait"
    ATTENUATE: Final = "attenuate"


_COPYABLE: Final = (dict, BoundedAttributes, MappingProxyType)


def attributes_of(span: ReadableSpan) -> dict[str, AttributeValue]:
    """A span's attributes as a plain dict, to read (never to change); copied at most once.

    Reading a plain dict costs a fraction of reading through the SDK's proxy (where each absent
    key raises a KeyError inside); the exporter, the export processor, the context processor and
    the scrubbing processor read attributes this way. For the SDK's own finished spans the
    attributes are read from their field (`_span_reads`), without the read-only proxy the
    property wraps them in each time. A finished span whose field is already a plain dict (the
    recorder's spans end so; nothing writes to it once the span ended) gives that dict itself;
    other attributes are copied, at C speed for the SDK's containers.
    """
    if span.__class__ is _RECORDED_SPAN or span.__class__ is _DIRECT_SPAN:
        attrs = span._attributes
        if attrs.__class__ is dict:
            return attrs
    else:
        attrs = span.attributes
    if attrs is None:
        return {}
    if isinstance(attrs, _COPYABLE):
        # A dict, the SDK's BoundedAttributes (its `.copy()` is its inner dict's), or the proxy
        # the SDK wraps them in (whose `.copy()` is theirs).
        copied = attrs.copy()
        return copied if isinstance(copied, dict) else dict(copied)
    return dict(attrs)
