"""`EgressGovernor`: the tracengent side of egress gating (the instrumentor's `EgressGate`).

Each governed httpx request is authorized through `/v1/tool-authorize` (wire contract §6,
`transport: "http"`) before it leaves. What the platform is told:

- `method`, `host` (no port; as it goes on the wire: IDNA-ASCII, no trailing dot; a request
  whose Host header or TLS server name names another host is governed when either host is, and
  denied without asking, outcome `host_ambiguous`: a proxy or an ingress routes it to the host it
  names), `path` as servers route it: literal dot segments removed, then each
  segment percent-decoded; a path with an encoded dot segment or slash (`%2e%2e`, `%2F`) is
  denied without asking (outcome `path_ambiguous`, `_egress_url.server_path`), as is a request
  whose `target` extension (the request line httpcore sends instead) is not its URL's;
- `query`: a dict of str; a key given more than once maps to the list of its values, in order,
  so a policy sees every value the server might act on; the values of credentials (`api_key`,
  `access_token`, signatures: `Scrubber.is_secret_parameter`) are `REDACTED`;
- `headers`: lower-cased names (repeated ones joined by ", " as httpx does), minus credentials:
  `Authorization`, `Proxy-Authorization`, `Cookie` (contract), `X-Api-Key`, `Api-Key`,
  `X-Ingest-Key`, any name holding `token`, `signature` or `credential` (`X-Amz-Security-Token`,
  `PRIVATE-TOKEN`, `X-Hub-Signature-256`), API-gateway keys (`Ocp-Apim-Subscription-Key`,
  `X-Functions-Key`, `X-Auth-Key`) and any name the scrubber masks (`scrub_patterns`):
  third-party secrets the platform has no use for;
- `body`: the parsed JSON, only for a body sent as JSON (its first Content-Type is JSON, or it has
  none and parses as JSON) that is in memory and not content-encoded, read as the server reads it
  (RFC 8259 UTF-8/16/32, a declared charset only from a short list and only when it agrees);
  streaming, compressed and non-JSON bodies are never read or buffered (`_egress_body`);
- `traceId` of the active decision trace.

On an allow every redaction is applied to the JSON body and the request's body is replaced by
the redacted bytes (in the encoding it was read with) with a matching `Content-Length`. A
redaction that cannot be applied because the JSON body is streamed, compressed or could not be
read, or the body is not JSON (a form, multipart), denies (outcome `redaction_unapplicable`): the
unredacted body must not leave. An in-memory
JSON body that cannot be read unambiguously denies even without redactions (outcome
`body_unreadable`): the platform would have decided without the document the server reads.
Fail-open
(`tool_governance_fail_open`) only for `PlatformUnavailableError`, and not when the platform
answered a 4xx (a 429: it is up, and throttling).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

import httpx
from opentelemetry.trace import Span, Tracer

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.exporter.tracengent._url_redaction import is_credential_header
from opentelemetry.exporter.tracengent.errors import PlatformUnavailableError
from opentelemetry.exporter.tracengent.jsonvalue import JsonObject, JsonValue
from opentelemetry.exporter.tracengent.options import TracengentOptions
from opentelemetry.exporter.tracengent.wire import ToolDecision
from tracengent._governance._decisions import current_trace_id
from tracengent._governance._egress_body import (
    NO_JSON_BODY,
    JsonBody,
    enforce_redactions,
    read_json_body,
    with_body,
)
from tracengent._governance._egress_url import (
    HOST_AMBIGUOUS,
    PATH_AMBIGUOUS,
    AmbiguousHostError,
    AmbiguousPathError,
    platform_query,
    server_path,
)
from tracengent._governance._hosts import authority_host, is_governed_host, request_port
from tracengent._governance._spans import record_decision
from tracengent._governance.tools import (
    TRANSPORT_HTTP,
    AsyncToolAuthorizer,
    ToolAuthorizer,
    deadline_for,
    decision_from_error,
    raise_unless_allowed,
    tool_authorize_bounded,
    tool_span,
)
from tracengent._scrubbing import Scrubber

if TYPE_CHECKING:
    from tracengent._recording import Recorder

__all__ = [
    "EgressGovernor",
    "is_credential_header",
    "is_governed_host",
    "other_named_host",
    "request_is_governed",
]

_logger = logging.getLogger("tracengent.governance.egress")

_FAIL_OPEN_LOG_INTERVAL_S: Final = 60.0


def wire_host(url: httpx.URL) -> str:
    """The host of `url` as it goes on the wire and as `governed_hosts` match it: IDNA-ASCII
    (`xn--bcher-kva.example`, never `bücher.example`), lower-case, no trailing dot or brackets."""
    return url.raw_host.decode("ascii", "replace").lower().rstrip(".")


def other_named_host(request: httpx.Request, host: str) -> str | None:
    """The host `request` names to the server other than `host` (its URL's `wire_host`): that
    of its Host header or TLS server name (`sni_hostname`) when it differs; None when they agree.

    A reverse proxy or an ingress routes by the Host header, a CDN by the server name: the
    request reaches the host they name, whatever the URL's host is.
    """
    named = request.headers.get("host")
    if named and (other := authority_host(named)) != host:
        return other
    sni = request.extensions.get("sni_hostname")
    if isinstance(sni, (bytes, bytearray)):  # `ssl` takes a server name in bytes too
        sni = sni.decode("ascii", "replace")
    if isinstance(sni, str) and sni and (other := authority_host(sni)) != host:
        return other
    return None


def _check_request_target(request: httpx.Request) -> None:
    """Raise `AmbiguousPathError` when the request line httpcore sends is not `request`'s URL's.

    httpcore sends `request.extensions["target"]`, when set, instead of the URL's path and query
    (for `OPTIONS *` or absolute-form): the server acts on that, not on the path told.
    """
    target = request.extensions.get("target")
    if target is None:
        return
    sent = target.encode("ascii", "replace") if isinstance(target, str) else target
    if sent != request.url.raw_path:
        raise AmbiguousPathError(
            f"the request line names {target!r} (the 'target' extension), not its URL's path "
            f"and query {request.url.raw_path.decode('ascii', 'replace')!r}"
        )


def http_tool_request(
    request: httpx.Request, body: JsonBody, trace_id: str | None, scrubber: Scrubber
) -> JsonObject:
    """The `/v1/tool-authorize` body for an HTTP request (module docstring: what is sent).

    Headers are told by lower-case name, repeated ones joined by ", " (as httpx does).
    `scrubber` names the credentials (query parameters, headers) the platform is not told.
    """
    _check_request_target(request)
    url = request.url
    host = wire_host(url)
    if (other := other_named_host(request, host)) is not None:
        raise AmbiguousHostError(
            f"the request goes to {host!r} but names {other!r} to the server (Host header or "
            "TLS server name)"
        )
    payload: JsonObject = {
        "transport": TRANSPORT_HTTP,
        "method": request.method,
        "host": host,
        "path": server_path(url),
    }
    if query := platform_query(url, scrubber):
        payload["query"] = query
    shown: dict[str, JsonValue] = {
        name: value
        for name, value in request.headers.items()
        if not is_credential_header(name) and not scrubber.is_sensitive_name(name)
    }
    if shown:
        payload["headers"] = shown
    if body.parsed:
        payload["body"] = body.value
    if trace_id is not None:
        payload["traceId"] = trace_id
    return payload


def request_is_governed(request: httpx.Request, patterns: Sequence[str]) -> bool:
    """Whether `request` goes to a host `patterns` govern: its URL's host (with its port), or
    the host it names to the server (`other_named_host`: a `Host` header, a TLS server name)."""
    url = request.url
    host, port = wire_host(url), request_port(url)
    if is_governed_host(host, patterns, port=port):
        return True
    other = other_named_host(request, host)
    return other is not None and is_governed_host(other, patterns, port=port)


class EgressGovernor:
    """Authorizes outgoing httpx requests; implements the instrumentor's `EgressGate`.

    Args:
        options: `governed_hosts`, `governance_timeout_s`, `tool_governance_fail_open` and
            `scrub_patterns` (credentials the platform is not told) apply.
        platform: the blocking platform client (`check`).
        async_platform: the coroutine platform client (`check_async`).
        tracer: where each decision is recorded as a governance span.
        govern_all: govern every request, whatever its host (a `governed_client`).
        clock: monotonic seconds, for rate-limiting the fail-open warning (tests inject one).
        scrubber: names the credentials the platform is not told: the client's (on a shared
            provider, the strictest client's rules); by default one from `scrub_patterns`.
        recorder: the client's: while another agent's decision trace is current, a decision
            names no trace and its span is not that trace's (see `governance_span`).

    `check`/`check_async` block (await) until the platform decides or the deadline passes. They
    raise only `ToolDeniedException` or `ToolPendingApprovalException`.
    """

    def __init__(
        self,
        options: TracengentOptions,
        *,
        platform: ToolAuthorizer,
        async_platform: AsyncToolAuthorizer,
        tracer: Tracer,
        govern_all: bool = False,
        clock: Callable[[], float] = time.monotonic,
        scrubber: Scrubber | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self._options = options
        self._platform = platform
        self._async_platform = async_platform
        self._tracer = tracer
        self._govern_all = govern_all
        self._clock = clock
        self._scrubber = (
            scrubber if scrubber is not None else Scrubber(patterns=options.scrub_patterns)
        )
        self._recorder = recorder
        self._lock = threading.Lock()
        self._fail_open_count = 0
        self._last_fail_open_log: float | None = None

    @property
    def fail_open_count(self) -> int:
        """How many requests were let through because the platform was unavailable."""
        return self._fail_open_count

    def is_governed(self, request: httpx.Request) -> bool:
        """Whether `request` is authorized before it leaves: `govern_all`, or its URL's host
        or the host it names to the server (`other_named_host`) is governed."""
        return self._govern_all or request_is_governed(request, self._options.governed_hosts)

    def check(self, request: httpx.Request) -> httpx.Request:
        """Authorize `request`; returns the request to send (possibly with a redacted body).

        Raises:
            ToolDeniedException: denied, or the decision could not be obtained (fail closed).
            ToolPendingApprovalException: held for a person's approval.
        """
        with tool_span(self._tracer, TRANSPORT_HTTP, _target(request), self._recorder) as span:
            body = NO_JSON_BODY
            try:
                body = read_json_body(request)
                trace_id = current_trace_id(self._recorder)
                payload = http_tool_request(request, body, trace_id, self._scrubber)
                decision = self._platform.tool_authorize(
                    payload, deadline=deadline_for(self._options)
                )
            except Exception as error:  # noqa: BLE001 - a gate lets no raw error out
                if self._fails_open(error, span):
                    return request
                decision = _deny_for(error)
            decision, redacted = enforce_redactions(decision, body)
            record_decision(span, decision)
        # Raised outside the governance span: a deny is a decision, not a failed span.
        raise_unless_allowed(decision)
        return with_body(request, redacted)

    async def check_async(self, request: httpx.Request) -> httpx.Request:
        """The coroutine twin of `check` (same results and exceptions)."""
        with tool_span(self._tracer, TRANSPORT_HTTP, _target(request), self._recorder) as span:
            body = NO_JSON_BODY
            try:
                body = read_json_body(request)
                trace_id = current_trace_id(self._recorder)
                payload = http_tool_request(request, body, trace_id, self._scrubber)
                decision = await tool_authorize_bounded(
                    self._async_platform, payload, self._options
                )
            except Exception as error:  # noqa: BLE001 - a gate lets no raw error out
                if self._fails_open(error, span):
                    return request
                decision = _deny_for(error)
            decision, redacted = enforce_redactions(decision, body)
            record_decision(span, decision)
        # Raised outside the governance span: a deny is a decision, not a failed span.
        raise_unless_allowed(decision)
        return with_body(request, redacted)

    def _fails_open(self, error: Exception, span: Span) -> bool:
        """Whether to let the request through unauthorized: only a person's explicit choice,
        and only for an unavailable platform (never 401/403, a deny, nonsense, a disabled agent).

        A 429 is retried as an outage, but it is the platform answering (throttling this agent),
        so it never opens, nor does a call held back by a 429's `Retry-After`.
        """
        if not (
            self._options.tool_governance_fail_open
            and isinstance(error, PlatformUnavailableError)
            and not _answered(error)
        ):
            return False
        span.set_attribute(A.AUTHZ_FAIL_OPEN, True)
        span.set_attribute(A.AUTHZ_OUTCOME, "platform_unavailable")
        span.set_attribute(A.AUTHZ_REASON, f"platform unavailable: {error}")
        with self._lock:
            self._fail_open_count += 1
            now = self._clock()
            due = (
                self._last_fail_open_log is None
                or now - self._last_fail_open_log >= _FAIL_OPEN_LOG_INTERVAL_S
            )
            if due:
                self._last_fail_open_log = now
            count = self._fail_open_count
        if due:
            _logger.warning(
                "tool governance failed open (tool_governance_fail_open=true): the platform is "
                "unavailable (%s); %d request(s) sent unauthorized so far",
                error,
                count,
            )
        return True


def _answered(error: PlatformUnavailableError) -> bool:
    """Whether the platform's last word on the call was a 4xx answer (a 429): it is up."""
    status = error.status_code
    return status is not None and 400 <= status < 500


def _deny_for(error: Exception) -> ToolDecision:
    """The deny for a request that could not be authorized because of `error`."""
    if isinstance(error, AmbiguousPathError):
        return ToolDecision.deny(f"request not sent: {error}", PATH_AMBIGUOUS)
    if isinstance(error, AmbiguousHostError):
        return ToolDecision.deny(f"request not sent: {error}", HOST_AMBIGUOUS)
    return decision_from_error(error)


def _target(request: httpx.Request) -> str:
    return f"{request.method} {request.url.host}"
