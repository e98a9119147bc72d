"""The local platform's policy: its data model and the strict TOML loader (schema in POLICY.md)."""

from __future__ import annotations

import fnmatch
import hmac
import posixpath
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from opentelemetry.exporter.tracengent.permissions import permission_matches
from opentelemetry.exporter.tracengent.redaction import Redaction, parse_path
from tracengent.platform._egress_globs import host_glob, method_names, path_glob
from tracengent.platform._shadowing import refuse_shadowed_routes, refuse_shadowed_rules
from tracengent.platform._store_ingest import RESERVATION_TTL_SECONDS
from tracengent.platform._toml_reader import PolicyError, TomlTable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = [
    "AgentPolicy",
    "EgressPolicy",
    "EgressRoute",
    "PermissionRule",
    "Policy",
    "PolicyError",
    "ToolBinding",
    "load_policy",
    "parse_policy",
]


def _secret_equals(expected: str, presented: str) -> bool:
    # Constant time, so response timing does not reveal how much of a guessed secret matched.
    return hmac.compare_digest(expected.encode("utf-8"), presented.encode("utf-8"))


@dataclass(frozen=True)
class AgentPolicy:
    """One agent: its credentials, the permission patterns it holds, its LLM token budget."""

    agent_id: str
    client_id: str | None = None
    client_secret: str | None = None
    ingest_key: str | None = None
    permissions: tuple[str, ...] = ()
    disabled: bool = False
    llm_token_budget: int | None = None

    def holds(self, permission: str) -> bool:
        """True when one of the agent's patterns covers `permission` (wire contract §9)."""
        return any(permission_matches(p, permission) for p in self.permissions)

    def client_secret_matches(self, presented: str | None) -> bool:
        """True when the agent has a client secret and `presented` is it (constant time)."""
        if self.client_secret is None or presented is None:
            return False
        return _secret_equals(self.client_secret, presented)


@dataclass(frozen=True)
class PermissionRule:
    """Limits on a permission pattern: amount cap, approval threshold, redactions."""

    permission: str
    max_amount: float | None = None
    require_approval_over: float | None = None
    redact_fields: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()

    def applies_to(self, permission: str, agent_id: str) -> bool:
        """True when the rule covers this permission for this agent (no `agents` = every agent)."""
        if self.agents and agent_id not in self.agents:
            return False
        return permission_matches(self.permission, permission)


@dataclass(frozen=True)
class ToolBinding:
    """An MCP tool or LLM function bound to the permission a caller must hold."""

    transport: str
    name: str
    permission: str
    approval: bool = False
    redactions: tuple[Redaction, ...] = ()


@dataclass(frozen=True)
class EgressRoute:
    """An HTTP route on a governed host (host and path are globs) bound to a permission."""

    host: str
    path: str
    permission: str
    methods: tuple[str, ...] = ("*",)
    approval: bool = False
    redactions: tuple[Redaction, ...] = ()

    def matches(self, method: str, host: str, path: str, *, loosely: bool = False) -> bool:
        """True when the request's method, host and path fall under this route; `loosely`: the
        paths compared as many servers route them (`_loose_path`)."""
        if "*" not in self.methods and method.upper() not in self.methods:
            return False
        if loosely:
            path, pattern = _loose_path(path), _loose_path(self.path)
        else:
            pattern = self.path
        return fnmatch.fnmatchcase(host, self.host) and fnmatch.fnmatchcase(path, pattern)


def _loose_path(path: str) -> str:
    """`path` as a lenient server routes it: each segment's `;` parameters dropped (as Servlet
    containers route `/v1/refunds;x`), letter case folded, runs of `/` collapsed, `.` and `..`
    segments resolved, no trailing `/` (`/V1//x/../Refunds;v=2/.` is `/v1/refunds`)."""
    collapsed = re.sub("/{2,}", "/", re.sub(";[^/]*", "", path))
    # `normpath` resolves `..` lexically, as RFC 3986 does; above the root it stays there.
    resolved = posixpath.normpath(collapsed) if collapsed.startswith("/") else collapsed
    return resolved.lower().rstrip("/") or "/"


@dataclass(frozen=True)
class EgressPolicy:
    """Which hosts agents may call at all, and the permission each route needs."""

    allowlist: tuple[str, ...] = ()
    routes: tuple[EgressRoute, ...] = ()
    unmatched_routes: str = "deny"

    def is_allowed_host(self, host: str) -> bool:
        """True when `host` matches an allowlist entry (exact name or `*.suffix` glob)."""
        return any(fnmatch.fnmatchcase(host, pattern) for pattern in self.allowlist)

    def route_for(self, method: str, host: str, path: str) -> EgressRoute | None:
        """The first route matching the request, or None.

        When unmatched requests are allowed, a request no route matches exactly but one matches
        loosely (`/v1/refunds/`, `/V1//Refunds` for `/v1/refunds`: the same resource on many
        servers) gets that route: its permission and approval, not an unchecked allow.
        """
        exact = next((r for r in self.routes if r.matches(method, host, path)), None)
        if exact is not None or self.unmatched_routes != "allow":
            return exact
        return next((r for r in self.routes if r.matches(method, host, path, loosely=True)), None)


@dataclass(frozen=True)
class Policy:
    """Everything the local platform decides by.

    Attributes:
        currency: the currency amount limits are written in.
        currency_rates: units of `currency` one unit of each other currency is worth.
        token_ttl_seconds: lifetime of issued access tokens.
        approval_ttl_seconds: a pending approval expires this long after it was created.
        llm_reservation_ttl_seconds: an `llm:call` authorization's token reservation gives its
            budget back this long after it was made when no `llm_call` event released it.
    """

    agents: tuple[AgentPolicy, ...]
    rules: tuple[PermissionRule, ...] = ()
    tools: tuple[ToolBinding, ...] = ()
    egress: EgressPolicy = field(default_factory=EgressPolicy)
    currency: str = "EUR"
    currency_rates: Mapping[str, float] = field(default_factory=dict)
    token_ttl_seconds: int = 900
    approval_ttl_seconds: int = 3600
    llm_reservation_ttl_seconds: int = RESERVATION_TTL_SECONDS

    def agent(self, agent_id: str) -> AgentPolicy | None:
        """The agent with this id, or None."""
        return next((a for a in self.agents if a.agent_id == agent_id), None)

    def agent_by_client_id(self, client_id: str) -> AgentPolicy | None:
        """The agent whose OAuth client id this is, or None."""
        return next((a for a in self.agents if a.client_id and a.client_id == client_id), None)

    def agent_by_ingest_key(self, ingest_key: str) -> AgentPolicy | None:
        """The agent whose legacy ingest key this is, or None (compared in constant time)."""
        found: AgentPolicy | None = None
        # Every agent's key is compared, not looked up by the secret, so timing tells nothing.
        for agent in self.agents:
            if agent.ingest_key and _secret_equals(agent.ingest_key, ingest_key):
                found = agent
        return found

    def rule_for(self, permission: str, agent_id: str) -> PermissionRule | None:
        """The first rule covering the permission for the agent, or None."""
        return next((r for r in self.rules if r.applies_to(permission, agent_id)), None)

    def binding(self, transport: str, name: str) -> ToolBinding | None:
        """The binding of an MCP tool or function by name, or None."""
        return next((t for t in self.tools if t.transport == transport and t.name == name), None)

    def convert(self, amount: float, currency: str | None) -> float | None:
        """`amount` in the policy currency; None when the currency has no rate.

        The product is taken of the numbers as written (decimal), then rounded once to a float:
        `100 * 1.1` in binary is 110.00000000000001, which would put 100 USD over a 110 EUR cap.
        Beyond the float range it is infinite (over any limit).
        """
        code = (currency or self.currency).upper()
        if code == self.currency:
            return amount
        rate = self.currency_rates.get(code)
        return None if rate is None else float(Decimal(repr(amount)) * Decimal(repr(rate)))


def load_policy(path: str | Path) -> Policy:
    """Read and validate a TOML policy file.

    Raises:
        PolicyError: the file cannot be read, is not TOML, or breaks the schema (the message names
            the key and what was expected).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {str(path)!r}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(
            f"policy file {str(path)!r} is not UTF-8 text (TOML is UTF-8): {exc}"
        ) from exc
    return parse_policy(text, source=str(path))


def parse_policy(text: str, *, source: str = "<policy>") -> Policy:
    """Validate a TOML policy document (see `load_policy`).

    Raises:
        PolicyError: as `load_policy`.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from exc
    try:
        return _build(TomlTable(document, ""))
    except PolicyError as exc:
        raise PolicyError(f"{source}: {exc}") from None


def _currency(table: TomlTable, name: str, value: str) -> str:
    if len(value) != 3 or not value.isalpha() or not value.isupper():
        raise PolicyError(
            f"{table.key(name)!r}: expected an ISO 4217 code like 'EUR', got {value!r}"
        )
    return value


def _redactions(table: TomlTable) -> tuple[Redaction, ...]:
    out: list[Redaction] = []
    for item in table.tables("redactions"):
        path = item.string("field", required=True)
        if parse_path(path) is None:
            raise PolicyError(f"{item.key('field')!r}: not a JSON path like '$.card', got {path!r}")
        strategy = item.string("strategy", default="mask")
        if strategy not in ("mask", "remove"):
            raise PolicyError(
                f"{item.key('strategy')!r}: expected 'mask' or 'remove', got {strategy!r}"
            )
        item.done()
        out.append(Redaction(path, strategy))
    return tuple(out)


def _agent(table: TomlTable) -> AgentPolicy:
    client_id = table.optional_string("client_id")
    client_secret = table.optional_string("client_secret")
    if bool(client_id) != bool(client_secret):
        missing = "client_secret" if client_id else "client_id"
        raise PolicyError(f"{table.key(missing)!r} is required when the other credential is set")
    agent = AgentPolicy(
        agent_id=table.string("id", required=True),
        client_id=client_id,
        client_secret=client_secret,
        ingest_key=table.optional_string("ingest_key"),
        permissions=table.permission_patterns("permissions"),
        disabled=table.boolean("disabled", default=False),
        llm_token_budget=table.integer("llm_token_budget", minimum=0),
    )
    table.done()
    return agent


def _rule(table: TomlTable, agent_ids: frozenset[str]) -> PermissionRule:
    rule = PermissionRule(
        permission=table.permission_pattern("permission"),
        max_amount=table.number("max_amount"),
        require_approval_over=table.number("require_approval_over"),
        redact_fields=table.strings("redact_fields"),
        agents=table.strings("agents"),
    )
    for path in rule.redact_fields:
        if parse_path(path) is None:
            raise PolicyError(f"{table.key('redact_fields')!r}: {path!r} is not a JSON path")
    # A misspelt id would make the rule apply to nobody: its limits silently lifted.
    for agent_id in rule.agents:
        if agent_id not in agent_ids:
            raise PolicyError(
                f"{table.key('agents')!r}: unknown agent {agent_id!r} (not an [[agents]] id)"
            )
    table.done()
    return rule


def _tool(table: TomlTable) -> ToolBinding:
    transport = table.string("transport", required=True)
    if transport not in ("mcp", "function"):
        raise PolicyError(
            f"{table.key('transport')!r}: expected 'mcp' or 'function', got {transport!r}"
            " (HTTP routes go under [[egress.routes]])"
        )
    tool = ToolBinding(
        transport=transport,
        name=table.string("name", required=True),
        permission=table.permission("permission"),
        approval=table.boolean("approval", default=False),
        redactions=_redactions(table),
    )
    table.done()
    return tool


def _tools(tables: list[TomlTable]) -> tuple[ToolBinding, ...]:
    """The bindings, each (transport, name) once: a second would be silently ignored."""
    tools: dict[tuple[str, str], ToolBinding] = {}
    for table in tables:
        tool = _tool(table)
        if (tool.transport, tool.name) in tools:
            raise PolicyError(
                f"{table.key('name')!r}: {tool.transport} tool {tool.name!r} is already bound"
            )
        tools[tool.transport, tool.name] = tool
    return tuple(tools.values())


def _route(table: TomlTable) -> EgressRoute:
    methods = table.strings("methods")
    route = EgressRoute(
        host=host_glob(table.key("host"), table.string("host", required=True)),
        path=path_glob(table.key("path"), table.string("path", default="/*")),
        permission=table.permission("permission"),
        # Left out: any method; `[]` is refused (it would match no request).
        methods=method_names(table.key("methods"), methods if "methods" in table.raw else None),
        approval=table.boolean("approval", default=False),
        redactions=_redactions(table),
    )
    table.done()
    return route


def _egress(table: TomlTable) -> EgressPolicy:
    unmatched = table.string("unmatched_routes", default="deny")
    if unmatched not in ("allow", "deny"):
        raise PolicyError(
            f"{table.key('unmatched_routes')!r}: expected 'allow' or 'deny', got {unmatched!r}"
        )
    egress = EgressPolicy(
        allowlist=tuple(host_glob(table.key("allowlist"), h) for h in table.strings("allowlist")),
        routes=tuple(_route(t) for t in table.tables("routes")),
        unmatched_routes=unmatched,
    )
    table.done()
    refuse_shadowed_routes(egress.routes)
    return egress


def _build(root: TomlTable) -> Policy:
    currency = _currency(root, "currency", root.string("currency", default="EUR"))
    rates_table = root.table("currency_rates")
    rates: dict[str, float] = {}
    for code in list(rates_table.raw):
        rate = rates_table.number(_currency(rates_table, code, code), minimum=1e-12)
        rates[code] = rate if rate is not None else 1.0
    rates_table.done()
    agents = tuple(_agent(t) for t in root.tables("agents"))
    if not agents:
        raise PolicyError("'agents' is required: at least one [[agents]] table")
    for attribute, label in (
        ("agent_id", "id"),
        ("client_id", "client_id"),
        ("ingest_key", "ingest_key"),
    ):
        seen: set[str] = set()
        for index, agent in enumerate(agents):
            value = getattr(agent, attribute)
            if value is not None and value in seen:
                raise PolicyError(f"'agents[{index}].{label}': duplicate value {value!r}")
            if value is not None:
                seen.add(value)
    policy = Policy(
        agents=agents,
        rules=tuple(_rule(t, frozenset(a.agent_id for a in agents)) for t in root.tables("rules")),
        tools=_tools(root.tables("tools")),
        egress=_egress(root.table("egress")),
        currency=currency,
        currency_rates=rates,
        token_ttl_seconds=root.integer("token_ttl_seconds", default=900) or 900,
        approval_ttl_seconds=root.integer("approval_ttl_seconds", default=3600) or 3600,
        llm_reservation_ttl_seconds=root.integer(
            "llm_reservation_ttl_seconds", default=RESERVATION_TTL_SECONDS
        )
        or RESERVATION_TTL_SECONDS,
    )
    root.done()
    refuse_shadowed_rules(policy.rules)
    return policy
