"""Pins `tracengent.__all__` and the 0.1.0 API surface (`spec/api-surface.md`) it must keep."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

import tracengent
from conformance.replay import make_jwt

EXPECTED_ALL = [
    "MASK_TOKEN",
    "Actor",
    "AgentEvent",
    "AgentTokenProvider",
    "AgentTrace",
    "AsyncGatewayTransport",
    "AsyncTrackingTransport",
    "AuthDecision",
    "AuthObligations",
    "DelegatedSession",
    "DelegationException",
    "EventStatuses",
    "EventTypes",
    "GatewayTransport",
    "JsonValue",
    "LlmCallResult",
    "Money",
    "NotAuthorizedException",
    "Redaction",
    "ToolDecision",
    "ToolDeniedException",
    "ToolGate",
    "ToolGuardResult",
    "ToolPendingApprovalException",
    "TracengentClient",
    "TracengentConfigError",
    "TracengentError",
    "TracengentOptions",
    "TrackingTransport",
    "Usage",
    "__version__",
    "apply_redactions",
    "current_trace",
    "governed_async_client",
    "governed_client",
    "new_id",
    "permission_matches",
    "tracked_async_client",
    "tracked_client",
]
"""The public API: every name below is importable from `tracengent`, and nothing else is."""

API_SURFACE_NAMES = {
    "TracengentOptions",
    "TracengentConfigError",
    "TracengentClient",
    "AgentEvent",
    "Money",
    "Usage",
    "Actor",
    "LlmCallResult",
    "EventTypes",
    "EventStatuses",
    "AgentTokenProvider",
    "new_id",
    "AgentTrace",
    "current_trace",
    "TrackingTransport",
    "tracked_client",
    "AuthDecision",
    "AuthObligations",
    "NotAuthorizedException",
    "ToolDecision",
    "ToolDeniedException",
    "ToolPendingApprovalException",
    "ToolGate",
    "ToolGuardResult",
    "GatewayTransport",
    "governed_client",
    "DelegatedSession",
    "DelegationException",
    "Redaction",
    "apply_redactions",
    "MASK_TOKEN",
    "permission_matches",
    "__version__",
}
"""The names api-surface.md lists (0.1.0's surface, which must keep working)."""

Params = list[tuple[str, object]]


def params(function: Callable[..., object]) -> Params:
    """`(name, default)` of each parameter but `self`; `"*"` marks where keyword-only ones begin."""
    found: Params = []
    keyword_only = False
    for parameter in inspect.signature(function).parameters.values():
        if parameter.name == "self":
            continue
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and not keyword_only:
            keyword_only = True
            found.append(("*", None))
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            found.append((f"**{parameter.name}", None))
            continue
        default = parameter.default
        found.append(
            (parameter.name, "<required>" if default is inspect.Parameter.empty else default)
        )
    return found


def field_defaults(cls: type) -> dict[str, object]:
    """A dataclass's fields in order, each with its default (`<required>` when it has none)."""
    defaults: dict[str, object] = {}
    for item in dataclasses.fields(cls):
        if item.default is not dataclasses.MISSING:
            defaults[item.name] = item.default
        elif item.default_factory is not dataclasses.MISSING:
            defaults[item.name] = item.default_factory()
        else:
            defaults[item.name] = "<required>"
    return defaults


def isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: SCREAMING_CASE constants, then CamelCase classes, then the rest."""
    if name.isupper():
        return 0, name
    return (1, name) if name[0].isupper() else (2, name)


@pytest.fixture
def client() -> Iterator[tracengent.TracengentClient]:
    """A client whose platform calls all fail (404) without leaving the process."""
    options = tracengent.TracengentOptions(agent_id="a", client_id="key_a", client_secret="s")
    transport = httpx.MockTransport(lambda request: httpx.Response(404))
    with tracengent.TracengentClient(options, transport=transport) as made:
        yield made


# --- the export list --------------------------------------------------------------------------


def test_all_is_exactly_the_public_api() -> None:
    """`__all__` holds exactly the expected names, in ruff's sorted order, without duplicates."""
    assert tracengent.__all__ == EXPECTED_ALL
    assert sorted(EXPECTED_ALL, key=isort_key) == EXPECTED_ALL
    assert len(set(EXPECTED_ALL)) == len(EXPECTED_ALL)


@pytest.mark.parametrize("name", EXPECTED_ALL)
def test_every_exported_name_is_importable(name: str) -> None:
    """Each name of `__all__` is an attribute of the package (what `from tracengent import *` needs)."""
    assert getattr(tracengent, name) is not None


def test_every_api_surface_name_is_exported() -> None:
    """Every name api-surface.md lists is in `__all__`."""
    assert sorted(API_SURFACE_NAMES - set(tracengent.__all__)) == []


def test_star_import_gives_exactly_all() -> None:
    """`from tracengent import *` binds exactly the names of `__all__`."""
    namespace: dict[str, object] = {}
    exec("from tracengent import *", namespace)
    assert sorted(set(namespace) - {"__builtins__"}) == sorted(EXPECTED_ALL)


# --- configuration ----------------------------------------------------------------------------


API_OPTION_DEFAULTS: dict[str, object] = {
    "base_url": "http://localhost:8080",
    "client_id": None,
    "client_secret": None,
    "ingest_key": None,
    "environment": "production",
    "max_batch_size": 100,
    "flush_interval_ms": 2000,
    "queue_capacity": 10000,
    "max_retries": 3,
    "gzip_threshold_bytes": 1024,
    "default_tags": [],
    "tool_governance_fail_open": False,
}
"""0.1.0's documented defaults."""


def test_options_fields_and_defaults() -> None:
    """`TracengentOptions` has 0.1.0's fields, in order, with 0.1.0's defaults."""
    defaults = field_defaults(tracengent.TracengentOptions)
    assert list(defaults)[:13] == [
        "agent_id",
        "base_url",
        "client_id",
        "client_secret",
        "ingest_key",
        "environment",
        "max_batch_size",
        "flush_interval_ms",
        "queue_capacity",
        "max_retries",
        "gzip_threshold_bytes",
        "default_tags",
        "tool_governance_fail_open",
    ]
    assert defaults["agent_id"] is None
    assert {k: defaults[k] for k in API_OPTION_DEFAULTS} == API_OPTION_DEFAULTS


@pytest.mark.parametrize(
    ("fields", "mentions"),
    [
        ({"client_id": "k", "client_secret": "s"}, "agent_id"),
        ({"agent_id": "a", "base_url": "", "ingest_key": "agk"}, "base_url"),
        ({"agent_id": "a"}, "ingest_key"),
    ],
)
def test_invalid_options_raise_config_error(fields: dict[str, str], mentions: str) -> None:
    """`validate()` raises `TracengentConfigError` (a `ValueError`) naming the field to set."""
    with pytest.raises(ValueError, match=mentions) as raised:
        tracengent.TracengentOptions(**fields).validate()  # type: ignore[arg-type]
    assert isinstance(raised.value, tracengent.TracengentConfigError)
    assert isinstance(raised.value, tracengent.TracengentError)


def test_options_say_whether_client_credentials_are_used() -> None:
    """`uses_client_credentials` is True with id and secret, False with only an ingest key."""
    both = tracengent.TracengentOptions(agent_id="a", client_id="k", client_secret="s")
    key_only = tracengent.TracengentOptions(agent_id="a", ingest_key="agk_1")
    assert (both.uses_client_credentials, key_only.uses_client_credentials) == (True, False)


def test_options_from_env_reads_the_documented_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """`from_env()` reads the six `TRACENGENT_*` variables; arguments override them."""
    for name, value in {
        "TRACENGENT_URL": "http://127.0.0.1:9",
        "TRACENGENT_CLIENT_ID": "key_env",
        "TRACENGENT_CLIENT_SECRET": "ags_env",
        "TRACENGENT_INGEST_KEY": "agk_env",
        "TRACENGENT_AGENT_ID": "env-agent",
        "TRACENGENT_ENVIRONMENT": "staging",
    }.items():
        monkeypatch.setenv(name, value)
    options = tracengent.TracengentOptions.from_env()
    assert (options.base_url, options.client_id, options.client_secret) == (
        "http://127.0.0.1:9",
        "key_env",
        "ags_env",
    )
    assert (options.ingest_key, options.agent_id, options.environment) == (
        "agk_env",
        "env-agent",
        "staging",
    )
    overridden = tracengent.TracengentOptions.from_env(agent_id="other", max_retries=1)
    assert (overridden.agent_id, overridden.max_retries) == ("other", 1)


# --- the data model ---------------------------------------------------------------------------


def test_agent_event_fields() -> None:
    """`AgentEvent` has 0.1.0's fields in order; only `name` and `type` are required."""
    defaults = field_defaults(tracengent.AgentEvent)
    assert list(defaults) == [
        "name",
        "type",
        "status",
        "event_id",
        "idempotency_key",
        "agent_id",
        "trace_id",
        "parent_event_id",
        "cost",
        "usage",
        "actor",
        "input",
        "output",
        "attributes",
        "occurred_at",
        "duration_ms",
        "tags",
        "root_request",
    ]
    assert [k for k, v in defaults.items() if v == "<required>"] == ["name", "type"]
    event = tracengent.AgentEvent(
        name="n", type=tracengent.EventTypes.ACTION, usage=tracengent.Usage(3, "m")
    )
    assert event.to_wire() == {
        "type": "action",
        "name": "n",
        "status": "success",
        "usage": {"tokens": 3, "model": "m"},
    }


def test_event_type_and_status_constants() -> None:
    """`EventTypes` and `EventStatuses` name the contract's wire values."""
    types = tracengent.EventTypes
    statuses = tracengent.EventStatuses
    assert (types.ACTION, types.TOOL_CALL, types.LLM_CALL) == ("action", "tool_call", "llm_call")
    assert (types.DECISION, types.ERROR, types.LIFECYCLE) == ("decision", "error", "lifecycle")
    assert (statuses.SUCCESS, statuses.FAILURE, statuses.PENDING) == (
        "success",
        "failure",
        "pending",
    )


def test_money_usage_actor_and_llm_result() -> None:
    """`Money` defaults to USD with `eur`/`usd` constructors; the small types keep 0.1.0's fields."""
    assert tracengent.Money(1.5) == tracengent.Money(1.5, "USD") == tracengent.Money.usd(1.5)
    assert tracengent.Money.eur(2) == tracengent.Money(2, "EUR")
    assert field_defaults(tracengent.Usage) == {"tokens": "<required>", "model": None}
    assert field_defaults(tracengent.Actor) == {"user_id": "<required>"}
    assert field_defaults(tracengent.LlmCallResult) == {
        "value": "<required>",
        "tokens": "<required>",
        "model": None,
        "cost": None,
    }


# --- authorization and tools ------------------------------------------------------------------


def test_auth_decision_fields_and_constructors() -> None:
    """`AuthDecision` keeps its fields; `deny`, `from_wire` and `.pending` behave as documented."""
    assert list(field_defaults(tracengent.AuthDecision)) == [
        "allowed",
        "reason",
        "obligations",
        "decision_id",
        "status",
        "approval_id",
        "acting_for",
        "chain",
    ]
    denied = tracengent.AuthDecision.deny("platform down")
    assert (denied.allowed, denied.reason, denied.pending) == (False, "platform down", False)
    pending = tracengent.AuthDecision.from_wire(
        {
            "allowed": False,
            "status": "pending_approval",
            "reason": "r",
            "decisionId": "dec_1",
            "approvalId": "apr_1",
        }
    )
    assert (pending.pending, pending.approval_id, pending.decision_id) == (True, "apr_1", "dec_1")
    nonsense = tracengent.AuthDecision.from_wire({"allowed": "yes"})
    assert not nonsense.allowed


def test_auth_obligations_fields() -> None:
    """`AuthObligations` has `max_amount`, `require_approval_over`, `redact_fields`, `currency`."""
    assert set(field_defaults(tracengent.AuthObligations)) == {
        "max_amount",
        "require_approval_over",
        "redact_fields",
        "currency",
    }


def test_governance_exceptions_carry_their_details() -> None:
    """The exceptions users catch take 0.1.0's arguments and expose them."""
    refused = tracengent.NotAuthorizedException("payments:refund", "over limit")
    assert (refused.permission, refused.reason) == ("payments:refund", "over limit")
    denied = tracengent.ToolDeniedException("nope", "flights:search", "policy_deny")
    assert (denied.reason, denied.permission, denied.outcome) == (
        "nope",
        "flights:search",
        "policy_deny",
    )
    pending = tracengent.ToolPendingApprovalException("apr_2", "needs a person")
    assert (pending.approval_id, pending.reason) == ("apr_2", "needs a person")
    assert issubclass(tracengent.DelegationException, tracengent.TracengentError)


def test_tool_decision_fields_and_pending() -> None:
    """`ToolDecision` keeps its fields, and `.pending` is true for `pending_approval`."""
    assert list(field_defaults(tracengent.ToolDecision)) == [
        "allowed",
        "status",
        "outcome",
        "reason",
        "permission",
        "decision_id",
        "approval_id",
        "redactions",
    ]
    pending = tracengent.ToolDecision(False, status="pending_approval", approval_id="apr_3")
    assert pending.pending
    assert not tracengent.ToolDecision(True, status="allowed").pending


def test_tool_guard_result_ensure_allowed() -> None:
    """`ensure_allowed()` returns the result on an allow and raises the matching exception else."""
    allowed: tracengent.ToolGuardResult[None] = tracengent.ToolGuardResult(
        tracengent.ToolDecision(True, status="allowed"), {"a": 1}
    )
    assert allowed.allowed
    assert allowed.ensure_allowed() is allowed
    denied: tracengent.ToolGuardResult[None] = tracengent.ToolGuardResult(
        tracengent.ToolDecision(False, outcome="policy_deny", reason="no", permission="p"), None
    )
    with pytest.raises(tracengent.ToolDeniedException):
        denied.ensure_allowed()
    pending: tracengent.ToolGuardResult[None] = tracengent.ToolGuardResult(
        tracengent.ToolDecision(False, status="pending_approval", approval_id="apr_9"), None
    )
    with pytest.raises(tracengent.ToolPendingApprovalException) as raised:
        pending.ensure_allowed()
    assert raised.value.approval_id == "apr_9"


def test_tool_gate_methods() -> None:
    """`ToolGate` has the four 0.1.0 methods with their arguments (the guards' one addition,
    `wait_for_approval`, is keyword-only and off by default: 0.1.0 calls are unchanged)."""
    gate = tracengent.ToolGate
    assert params(gate.authorize_mcp) == [("tool", "<required>"), ("args", None)]
    assert params(gate.authorize_function) == [("fn", "<required>"), ("args", None)]
    for guard, first in ((gate.guard_mcp, "tool"), (gate.guard_function, "fn")):
        assert params(guard) == [
            (first, "<required>"),
            ("args", "<required>"),
            ("invoke", "<required>"),
            ("*", None),
            ("wait_for_approval", False),
        ]


# --- the client, traces, delegation -----------------------------------------------------------


def test_client_constructor_and_methods() -> None:
    """`TracengentClient` takes `(options, *, transport, http)` and has 0.1.0's methods."""
    cls = tracengent.TracengentClient
    assert params(cls)[:4] == [
        ("options", "<required>"),
        ("*", None),
        ("transport", None),
        ("http", None),
    ]
    assert params(cls.record) == [("event", "<required>")]
    assert params(cls.begin_trace) == [("root_request", "<required>"), ("actor_user_id", None)]
    for name in ("authorize", "ensure_authorized", "authorize_async", "ensure_authorized_async"):
        assert params(getattr(cls, name)) == [("permission", "<required>"), ("context", None)]
    # 0.1.0's two arguments, then keyword-only bounds of the wait (default: the options').
    for name in ("wait_for_approval", "wait_for_approval_async"):
        assert params(getattr(cls, name)) == [
            ("permission", "<required>"),
            ("approval_id", "<required>"),
            ("*", None),
            ("timeout_s", None),
            ("poll_interval_s", None),
        ]
    assert params(cls.has_permission) == [("permission", "<required>")]
    assert params(cls.begin_delegated_task) == [("token", "<required>")]
    assert params(cls.close) == [("timeout", 5.0)]


def test_client_properties(client: tracengent.TracengentClient) -> None:
    """A client exposes `.tools`, `.dropped_count`, `.options` and `.token_provider`."""
    assert isinstance(client.tools, tracengent.ToolGate)
    assert client.dropped_count == 0
    assert client.options.agent_id == "a"
    assert isinstance(client.token_provider, tracengent.AgentTokenProvider)
    assert client.has_permission("payments:refund") is False  # the token endpoint answers 404
    assert isinstance(client.close(timeout=5.0), bool)


def test_has_permission_is_false_with_an_ingest_key() -> None:
    """With an ingest key there is no token: `has_permission` is False and no provider exists."""
    options = tracengent.TracengentOptions(agent_id="a", ingest_key="agk_1")
    transport = httpx.MockTransport(lambda request: httpx.Response(500))
    with tracengent.TracengentClient(options, transport=transport) as made:
        assert made.token_provider is None
        assert made.has_permission("anything") is False


def test_token_provider_surface() -> None:
    """`AgentTokenProvider(options, http)` has `get_token`, `invalidate`, `disabled`, `cached_permissions`."""
    provider = tracengent.AgentTokenProvider
    assert [p for p, _ in params(provider)][:2] == ["options", "http"]
    for name in ("get_token", "invalidate"):
        assert callable(getattr(provider, name))
    for name in ("disabled", "cached_permissions"):
        assert isinstance(inspect.getattr_static(provider, name), property)


def test_agent_trace_surface(client: tracengent.TracengentClient) -> None:
    """`begin_trace` returns an `AgentTrace` with 0.1.0's members; `current_trace()` follows `with`."""
    trace = client.begin_trace("refund order 1")
    assert isinstance(trace, tracengent.AgentTrace)
    assert trace.root_request == "refund order 1"
    assert trace.trace_id.startswith("trc_")
    assert params(tracengent.AgentTrace.step) == [("reasoning", "<required>"), ("attributes", None)]
    assert [p for p, _ in params(tracengent.AgentTrace.track_llm_call)][:4] == [
        "name",
        "call",
        "estimated_tokens",
        "input",
    ]
    assert params(tracengent.AgentTrace.complete) == [("status", "<required>"), ("summary", None)]
    assert tracengent.current_trace() is None
    with trace:
        assert tracengent.current_trace() is trace
    assert tracengent.current_trace() is None
    trace.close()  # idempotent after `with`


def test_delegated_session_surface(client: tracengent.TracengentClient) -> None:
    """`begin_delegated_task` gives a `DelegatedSession` exposing the token's delegation claims."""
    token = make_jwt(
        {
            "sub": "b",
            "grant_id": "dlg_1",
            "acting_for": "u_1",
            "delegation_chain": ["a", "b"],
            "delegated_permissions": ["hotels:*"],
        }
    )
    with client.begin_delegated_task(token) as session:
        assert isinstance(session, tracengent.DelegatedSession)
        assert (session.token, session.grant_id, session.acting_for) == (token, "dlg_1", "u_1")
        assert (session.chain, session.delegated_permissions) == (["a", "b"], ["hotels:*"])
        assert session.is_delegated
    assert params(tracengent.DelegatedSession.attenuate_for_call) == [
        ("callee_agent_id", "<required>"),
        ("permissions", "<required>"),
        ("*", None),
        ("max_amount", None),
        ("expires_in_seconds", None),
        ("reason", None),
    ]
    assert params(tracengent.DelegatedSession.authorize) == [
        ("permission", "<required>"),
        ("context", None),
    ]
    with pytest.raises(tracengent.DelegationException):
        client.begin_delegated_task("")


@pytest.mark.parametrize("factory", [tracengent.tracked_client, tracengent.governed_client])
def test_http_client_factories(
    client: tracengent.TracengentClient, factory: Callable[..., httpx.Client]
) -> None:
    """`tracked_client` / `governed_client` take `(client, *, inner, **httpx_kwargs)` → `httpx.Client`."""
    assert params(factory) == [
        ("client", "<required>"),
        ("*", None),
        ("inner", None),
        ("**httpx_kwargs", None),
    ]
    inner = httpx.MockTransport(lambda request: httpx.Response(204))
    with factory(client, inner=inner, base_url="http://127.0.0.1:9") as http:
        assert isinstance(http, httpx.Client)
        assert http.base_url == httpx.URL("http://127.0.0.1:9")


# --- helpers and framework bindings -----------------------------------------------------------


def test_helpers() -> None:
    """Redaction, matching, ids and the version behave as api-surface.md says."""
    assert tracengent.Redaction("$.card") == tracengent.Redaction("$.card", "remove")
    assert tracengent.MASK_TOKEN == "***REDACTED***"
    masked = tracengent.apply_redactions(
        '{"card":"4242","n":1}', [tracengent.Redaction("$.card", "mask")]
    )
    assert masked == '{"card":"***REDACTED***","n":1}'
    assert tracengent.permission_matches("payments:*", "payments:refund")
    assert not tracengent.permission_matches("payments:*", "flights:book")
    assert tracengent.new_id("evt").startswith("evt_")
    assert isinstance(tracengent.__version__, str)
    assert tracengent.__version__


@pytest.mark.parametrize(
    "module", ["tracengent.integrations.fastapi", "tracengent.integrations.flask"]
)
def test_framework_bindings(module: str) -> None:
    """Each framework binding exports `install_tracengent(app, client)` and the permission guard."""
    binding = importlib.import_module(module)
    assert sorted(binding.__all__) == ["install_tracengent", "require_agent_permission"]
    assert [p for p, _ in params(binding.install_tracengent)] == ["app", "client"]
    assert params(binding.require_agent_permission) == [
        ("permission", "<required>"),
        ("*", None),
        ("client", None),
    ]


# --- typing -------------------------------------------------------------------------------------

TYPED_0_1_0_AGENT = """
from __future__ import annotations

import tracengent


def run(client: tracengent.TracengentClient) -> None:
    args: dict[str, str] = {"q": "Lisbon"}
    ids: list[int] = [1, 2]
    nested: dict[str, dict[str, float]] = {"refund": {"amount": 10.0}}
    client.authorize("payments:refund", nested)
    client.ensure_authorized("payments:refund", nested)
    client.tools.authorize_mcp("search_flights", args)
    client.tools.authorize_function("lookup", ids)
    client.tools.guard_mcp("search_flights", args, lambda arguments: arguments)
    client.tools.guard_function("lookup", ids, lambda arguments: arguments)
    with client.begin_trace("book a flight") as trace:
        trace.step("search", nested)
        trace.track_tool_call("search", lambda: 1, input=args)
        trace.track_action("pay", lambda: 1, input=ids)
        trace.track_llm_call("pick", lambda: tracengent.LlmCallResult(1, 2), input=nested)
        trace.record(
            tracengent.AgentEvent("note", "decision", input=args, output=ids, attributes=nested)
        )
"""
"""0.1.0 usage whose payloads are typed variables (`dict[str, str]`, `list[int]`, nested)."""


def test_typed_payload_variables_type_check(tmp_path: Path) -> None:
    """Payloads and contexts held in typed variables pass `mypy --strict` (`dict` and `list`
    are invariant: a `dict[str, str]` is no `dict[str, JsonValue]`)."""
    from mypy import api

    agent = tmp_path / "typed_agent.py"
    agent.write_text(TYPED_0_1_0_AGENT)
    # mypy raises the interpreter's recursion limit for good: put it back, so tests that run
    # after this one meet the limit an application has (deep payloads are judged against it).
    limit = sys.getrecursionlimit()
    try:
        stdout, stderr, status = api.run(
            ["--strict", "--cache-dir", str(tmp_path / "mypy-cache"), str(agent)]
        )
    finally:
        sys.setrecursionlimit(limit)
    assert status == 0, stdout + stderr
