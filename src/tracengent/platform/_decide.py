"""The local platform's decisions: `/v1/authorize` and `/v1/tool-authorize` (wire contract §4, §6).

Each handler takes the authenticated principal and the parsed request, stores the decision with its
reason, and returns the HTTP status and JSON answer. Anything not clearly allowed is denied.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue, finite_float
from opentelemetry.exporter.tracengent.permissions import permission_matches
from opentelemetry.exporter.tracengent.redaction import Redaction, redact_value
from tracengent.platform._egress_globs import ascii_host
from tracengent.platform._policy import AgentPolicy, PermissionRule, Policy
from tracengent.platform._records import ApprovalRecord, GrantRecord
from tracengent.platform.store import PlatformStore

__all__ = ["Engine", "Principal", "RequestError", "finite_amount"]

_LLM_CALL: Final = "llm:call"


class RequestError(Exception):
    """A request body that breaks the contract (answered 400 with this detail)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the agent the credentials belong to, and the grant of a delegated token."""

    agent: AgentPolicy
    grant: GrantRecord | None = None


@dataclass(frozen=True)
class _Verdict:
    status: str
    reason: str
    rule: PermissionRule | None = None
    approval: ApprovalRecord | None = None

    @property
    def allowed(self) -> bool:
        return self.status == "allowed"


def _deny(reason: str, rule: PermissionRule | None = None) -> _Verdict:
    return _Verdict("denied", reason, rule)


def _money(value: float, currency: str) -> str:
    """`value` to the cent, or as it is when cents would misstate it (`500.001` is not
    `500.00`, the limit it is over; `1e300` is not 301 digits)."""
    cents = f"{value:.2f}"
    # From 1e15 on a float has no cents to show: its `.2f` is every digit of a huge number.
    exact = value < 1e15 and float(cents) == value
    return f"{cents if exact else repr(value)} {currency}"


def _optional_str(request: JsonObject, key: str) -> str | None:
    value = request.get(key)
    if value is not None and not isinstance(value, str):
        raise RequestError(f"{key!r} must be a string")
    return value


def _trace_id(request: JsonObject) -> str | None:
    """The request's `traceId`; None when absent, null or empty. The id only files the decision
    (and a held approval or token reservation) under a trace: `""` names none (ingest refuses
    events and closes under it), and refusing the request for it would deny the call."""
    return _optional_str(request, "traceId") or None


def _required_str(request: JsonObject, key: str) -> str:
    value = _optional_str(request, key)
    if not value:
        raise RequestError(f"{key!r} is required (a non-empty string)")
    return value


def _with_rule_fields(
    redactions: tuple[Redaction, ...], rule: PermissionRule | None
) -> tuple[Redaction, ...]:
    """A tool's or route's redactions, then the rule's `redact_fields` (masked) they do not name."""
    if rule is None:
        return redactions
    named = {r.field for r in redactions}
    return redactions + tuple(Redaction(f, "mask") for f in rule.redact_fields if f not in named)


def _scrubbed(context: JsonObject, redactions: Sequence[Redaction]) -> JsonObject:
    """The context as it may be stored: `redactions` applied (a card number is not kept in the
    decision log or shown to the approver)."""
    if not redactions:
        return context
    redacted = redact_value(context, redactions)
    # Redaction never fails open: a result that is not an object is dropped, not stored raw.
    return redacted if isinstance(redacted, dict) else {}


def _policy_host(host: str) -> str:
    """A request's (lower-case) `host` as policies name hosts and the SDK sends them: without
    its port, IPv6 brackets or the trailing dot of a fully qualified name (`api.example.com.:443`
    is `api.example.com`, `[::1]:8080` is `::1`), IDNA-encoded (`bücher.example`). Each spelling reaches the same server, so under
    `unmatched_routes = "allow"` another one must not slip past the host's routes."""
    if host.startswith("["):
        inner, bracket, port = host[1:].partition("]")
        if bracket and (not port or (port[0] == ":" and port[1:].isdigit())):
            host = inner
    elif host.count(":") == 1:
        name, port = host.split(":")
        # `host:` (an empty port) is the default port, as in `http://host:/`.
        host = name if port.isdigit() or not port else host
    return ascii_host(host.rstrip(".") or host)


def _call_digest(
    transport: str, target: JsonObject, body: JsonValue | None, acting_for: str | None
) -> str:
    """The sha256 of a tool call as received: transport, target and body (before redaction) as
    sorted-key compact JSON, so an approval allows that very call and no other. `acting_for`,
    the agent a delegated token acts for (None: the agent's own authority): a person approved
    the call on that agent's behalf, not the same call made for another."""
    call: JsonObject = {"transport": transport, "target": target, "body": body}
    if acting_for is not None:
        # Only then: an approval held under an agent's own token keeps its digest.
        call["actingFor"] = acting_for
    canonical = json.dumps(call, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def finite_amount(value: object) -> float | None:
    """`value` as a float when it is a finite number >= 0 (not a bool), else None.

    NaN passes every `<`/`>` comparison, so a NaN amount or cap would slip past each limit; an
    integer too large for a float is refused rather than raising `OverflowError`.
    """
    number = finite_float(value)
    return number if number is not None and number >= 0 else None


def _parse_amount(
    policy: Policy, context: JsonObject
) -> tuple[float | None, str | None, float | None] | str:
    """`(amount, currency, amount in the policy currency)`, or why the context is refused."""
    amount = context.get("amount")
    currency = context.get("currency")
    if currency is not None and not isinstance(currency, str):
        return f"context currency must be a string, got {currency!r}"
    if amount is None:
        return None, currency, None
    number = finite_amount(amount)
    if number is None:
        return f"context amount must be a finite number >= 0, got {amount!r}"
    if currency == "":
        # No currency at all is the policy's; an empty one names none, and is not taken for it.
        return "context currency must be a currency code like 'EUR', got ''"
    converted = policy.convert(number, currency)
    if converted is None:
        return f"no conversion rate from {currency} to {policy.currency}"
    return number, currency, converted


class Engine:
    """Decides requests against a policy, recording every decision in the store."""

    def __init__(self, policy: Policy, store: PlatformStore) -> None:
        self.policy = policy
        self.store = store

    # -- the shared evaluation ----------------------------------------------------------------

    def _matching_rule(self, principal: Principal, permission: str) -> PermissionRule | None:
        """The rule covering `permission` for the agent whose permissions decide it (the delegating
        agent under a grant), whatever the verdict: its `redact_fields` scrub every stored request.
        """
        grant = principal.grant
        subject_id = grant.acting_for if grant is not None else principal.agent.agent_id
        return self.policy.rule_for(permission, subject_id)

    def _evaluate(
        self,
        principal: Principal,
        permission: str,
        rule: PermissionRule | None,
        context: JsonObject,
        trace_id: str | None,
        *,
        approval_required: bool = False,
        redactions: tuple[Redaction, ...] = (),
        call_digest: str | None = None,
    ) -> _Verdict:
        """Decide `permission` for `principal` under `rule` (its `_matching_rule`); `redactions`
        are the tool's or route's, applied (with the rule's `redact_fields`) to the context a
        pending approval stores. `call_digest`, a tool call's (`_call_digest`): a call a person
        approved is allowed once instead of held again; every other check still applies."""
        policy, agent, grant = self.policy, principal.agent, principal.grant
        if "*" in permission:
            # A pattern covers what it names (§9) but no rule written for one of those: asked
            # for, `payments:*` would pass every `payments:refund` cap.
            return _deny(f"{permission} is a permission pattern: ask for one permission", rule)
        subject = agent
        if grant is not None:
            if not any(permission_matches(p, permission) for p in grant.permissions):
                return _deny(
                    f"{permission} is outside the delegated permissions of {grant.grant_id}"
                )
            root = policy.agent(grant.acting_for)
            if root is None or root.disabled:
                return _deny(f"the delegating agent {grant.acting_for} is unknown or disabled")
            subject = root
        if not subject.holds(permission):
            return _deny(f"agent {subject.agent_id} does not hold permission {permission}")
        parsed = _parse_amount(policy, context)
        if isinstance(parsed, str):
            return _deny(parsed, rule)
        amount, currency, converted = parsed
        cur = policy.currency
        grant_cap = grant.max_amount if grant is not None else None
        if converted is not None and grant_cap is not None and converted > grant_cap:
            return _deny(
                f"amount {_money(converted, cur)} exceeds the delegated maximum "
                f"{_money(grant_cap, cur)}",
                rule,
            )
        rule_cap = rule.max_amount if rule is not None else None
        if converted is not None and rule_cap is not None and converted > rule_cap:
            return _deny(
                f"amount {_money(converted, cur)} exceeds the limit "
                f"{_money(rule_cap, cur)} for {permission}",
                rule,
            )
        threshold = rule.require_approval_over if rule is not None else None
        over = converted is not None and threshold is not None and converted > threshold
        approved: ApprovalRecord | None = None
        if (approval_required or over) and call_digest is not None:
            approved = self.store.use_approved_call(
                agent_id=agent.agent_id,
                permission=permission,
                call_digest=call_digest,
                within_seconds=policy.approval_ttl_seconds,
            )
        if (approval_required or over) and approved is None:
            approval = self.store.create_approval(
                agent_id=agent.agent_id,
                permission=permission,
                context=_scrubbed(context, _with_rule_fields(redactions, rule)),
                ttl_seconds=policy.approval_ttl_seconds,
                amount=amount,
                currency=currency,
                trace_id=trace_id,
                call_digest=call_digest,
                acting_for=grant.acting_for if grant is not None else None,
            )
            reason = (
                f"amount {_money(converted or 0.0, cur)} is over the approval threshold "
                f"{_money(threshold or 0.0, cur)}"
                if over
                else f"{permission} requires a person's approval"
            )
            return _Verdict("pending_approval", reason, rule, approval)
        # Under a grant the delegate spends the delegating agent's budget (the same subject whose
        # permissions and rules decided above), so delegating never widens what may be spent.
        if permission == _LLM_CALL and subject.llm_token_budget is not None:
            estimated = context.get("estimatedTokens", 0)
            if isinstance(estimated, bool) or not isinstance(estimated, int) or estimated < 0:
                return _deny(f"estimatedTokens must be an integer >= 0, got {estimated!r}", rule)
            budget = subject.llm_token_budget
            if not self.store.reserve_tokens(
                subject.agent_id,
                budget,
                estimated,
                trace_id,
                spender=agent.agent_id,
                ttl_seconds=policy.llm_reservation_ttl_seconds,
            ):
                usage = self.store.token_usage(subject.agent_id)
                left = max(0, budget - usage.used - usage.reserved)
                return _deny(
                    f"LLM token budget exceeded: {estimated} estimated, {left} of {budget} left"
                    f" for {subject.agent_id}",
                    rule,
                )
        if approved is not None:
            reason = f"{permission} approved by a person ({approved.approval_id})"
            return _Verdict("allowed", reason, rule, approved)
        return _Verdict("allowed", f"{permission} allowed by policy", rule)

    def _record(
        self,
        principal: Principal,
        kind: str,
        permission: str | None,
        verdict: _Verdict,
        request: JsonObject,
        trace_id: str | None,
        outcome: str | None = None,
    ) -> str:
        return self.store.record_decision(
            agent_id=principal.agent.agent_id,
            kind=kind,
            permission=permission,
            status=verdict.status,
            reason=verdict.reason,
            request=request,
            outcome=outcome,
            trace_id=trace_id,
            approval_id=verdict.approval.approval_id if verdict.approval else None,
            acting_for=principal.grant.acting_for if principal.grant else None,
        )

    # -- POST /v1/authorize -------------------------------------------------------------------

    def authorize(self, principal: Principal, request: JsonObject) -> JsonObject:
        """Decide `{"permission", "context"?, "traceId"?}`.

        Raises:
            RequestError: the request breaks the contract.
        """
        permission = _required_str(request, "permission")
        trace_id = _trace_id(request)
        context = request.get("context")
        if context is None:
            # Only a missing or null context means none; 0, false, "" and [] are not objects.
            context = {}
        if not isinstance(context, dict):
            raise RequestError("'context' must be a JSON object")
        rule = self._matching_rule(principal, permission)
        verdict = self._evaluate(principal, permission, rule, context, trace_id)
        answer: JsonObject = {
            "allowed": verdict.allowed,
            "status": verdict.status,
            "reason": verdict.reason,
            "decisionId": self._record(
                principal,
                "authorize",
                permission,
                verdict,
                # Denied or not, the request is stored with the rule's fields masked.
                {**request, "context": _scrubbed(context, _with_rule_fields((), rule))},
                trace_id,
            ),
        }
        if verdict.approval is not None:
            answer["approvalId"] = verdict.approval.approval_id
        if principal.grant is not None:
            answer["actingFor"] = principal.grant.acting_for
            answer["chain"] = list(principal.grant.chain)
        grant_cap = principal.grant.max_amount if principal.grant is not None else None
        obligations = self._obligations(verdict.rule, grant_cap)
        if obligations:
            answer["obligations"] = obligations
        return answer

    def _obligations(self, rule: PermissionRule | None, grant_cap: float | None) -> JsonObject:
        """The rule's limits and redactions; `maxAmount` is the lower of the rule's cap and
        `grant_cap` (a delegated token's maximum, like the rule's in the policy currency)."""
        rule_cap = rule.max_amount if rule is not None else None
        caps = [c for c in (rule_cap, grant_cap) if c is not None]
        obligations: JsonObject = {}
        if caps:
            obligations["maxAmount"] = min(caps)
        if rule is not None and rule.require_approval_over is not None:
            obligations["requireApprovalOver"] = rule.require_approval_over
        if obligations:
            obligations["currency"] = self.policy.currency
        if rule is not None and rule.redact_fields:
            obligations["redactFields"] = list(rule.redact_fields)
        return obligations

    # -- POST /v1/tool-authorize --------------------------------------------------------------

    def tool_authorize(self, principal: Principal, request: JsonObject) -> JsonObject:
        """Decide a governed tool call of any transport (`http`, `mcp`, `function`).

        Raises:
            RequestError: the request breaks the contract.
        """
        transport = _required_str(request, "transport")
        trace_id = _trace_id(request)
        # Header values may carry secrets: keep only their names in the stored request.
        headers = request.get("headers")
        stored: JsonObject = {k: v for k, v in request.items() if k != "headers"}
        if isinstance(headers, dict):
            stored["headerNames"] = list[JsonValue](sorted(headers))
        permission: str | None = None
        approval = False
        redactions: tuple[Redaction, ...] = ()
        denial: tuple[str, str] | None = None
        target: JsonObject
        if transport == "http":
            method = _required_str(request, "method").upper()
            host = _required_str(request, "host").lower()
            path = _required_str(request, "path")
            # The host as sent (its port included): an approval is of one server's endpoint.
            target = {"method": method, "host": host, "path": path, "query": request.get("query")}
            host = _policy_host(host)
            egress = self.policy.egress
            route = egress.route_for(method, host, path)
            if not egress.is_allowed_host(host):
                denial = ("egress_deny", f"host {host} is not in the egress allowlist")
            elif route is not None:
                permission, approval, redactions = (
                    route.permission,
                    route.approval,
                    route.redactions,
                )
            elif egress.unmatched_routes == "allow":
                verdict = _Verdict("allowed", f"host {host} is allowlisted (no route rule)")
                return self._tool_answer(
                    principal, None, verdict, "policy_allow", (), stored, trace_id
                )
            else:
                denial = ("policy_deny", f"no route rule for {method} {host}{path}")
        elif transport in ("mcp", "function"):
            key = "toolName" if transport == "mcp" else "functionName"
            name = _required_str(request, key)
            target = {key: name}
            binding = self.policy.binding(transport, name)
            if binding is None:
                label = "MCP tool" if transport == "mcp" else "function"
                denial = ("policy_deny", f"tool not bound: {label} {name!r} has no binding")
            else:
                permission, approval = binding.permission, binding.approval
                redactions = binding.redactions
        else:
            raise RequestError(f"'transport' must be one of http/mcp/function, got {transport!r}")
        if denial is not None or permission is None:
            outcome, reason = denial or ("policy_deny", "no permission bound")
            return self._tool_answer(principal, None, _deny(reason), outcome, (), stored, trace_id)
        body = request.get("body")
        context: JsonObject = body if isinstance(body, dict) else {}
        rule = self._matching_rule(principal, permission)
        verdict = self._evaluate(
            principal,
            permission,
            rule,
            context,
            trace_id,
            approval_required=approval,
            redactions=redactions,
            call_digest=_call_digest(
                transport,
                target,
                body,
                principal.grant.acting_for if principal.grant is not None else None,
            ),
        )
        outcome = {"allowed": "policy_allow", "pending_approval": "approval_required"}.get(
            verdict.status, "policy_deny"
        )
        redactions = _with_rule_fields(redactions, rule)
        return self._tool_answer(
            principal, permission, verdict, outcome, redactions, stored, trace_id
        )

    def _tool_answer(
        self,
        principal: Principal,
        permission: str | None,
        verdict: _Verdict,
        outcome: str,
        redactions: tuple[Redaction, ...],
        stored: JsonObject,
        trace_id: str | None,
    ) -> JsonObject:
        answer: JsonObject = {
            "allowed": verdict.allowed,
            "status": verdict.status,
            "outcome": outcome,
            "reason": verdict.reason,
        }
        if permission is not None:
            answer["permission"] = permission
        if redactions and "body" in stored:
            # What the tool would redact is not kept in the decision log either.
            stored = {**stored, "body": redact_value(stored["body"], redactions)}
        answer["decisionId"] = self._record(
            principal, "tool", permission, verdict, stored, trace_id, outcome
        )
        if verdict.approval is not None:
            answer["approvalId"] = verdict.approval.approval_id
        if verdict.allowed and redactions:
            wire: list[JsonValue] = [{"field": r.field, "strategy": r.strategy} for r in redactions]
            answer["redactions"] = wire
        return answer
