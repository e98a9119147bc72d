"""The local platform's ASGI app: every endpoint of the wire contract over one store and policy."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Final, cast
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from opentelemetry.exporter.tracengent.jsonvalue import JsonObject
from tracengent.platform._console import console_routes
from tracengent.platform._decide import Engine, Principal, RequestError
from tracengent.platform._delegation import DelegationRefused, attenuate
from tracengent.platform._ingest import (
    MAX_BODY_BYTES,
    IngestError,
    decode_body,
    decode_content,
    read_limited,
    validate_close,
    validate_events,
)
from tracengent.platform._policy import Policy
from tracengent.platform._server import is_loopback_host_header
from tracengent.platform._tokens import TokenError, issue_access_token, verify_token
from tracengent.platform.store import PlatformStore

__all__ = ["create_app"]

_MAX_TOKEN_FORM_BYTES: Final = 4096
"""Largest token request form read (three short fields)."""

_FORM: Final = "application/x-www-form-urlencoded"
"""The token request's content type (wire contract §1)."""


class _Unauthorized(Exception):
    pass


def _error(status: int, error: str, detail: str, **extra: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": error, "detail": detail, **extra}, status, headers=headers)


def _gone() -> Response:
    """The answer to a client that went away mid-body: nobody reads it, and what arrived is
    neither stored nor counted as a rejection (the sender never finished; its SDK retries).
    Raising instead would have uvicorn log an application error, traceback and all."""
    return Response(status_code=400)


_DATABASE_RETRY_AFTER_S: Final = "1"
"""How long a client is asked to wait after a database error before it retries."""


def _loopback_only(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """`handler`, answering `403` to a request addressed to a host name other than loopback's,
    `503` (`Retry-After: 1`) when the database fails it (locked past the busy timeout), and
    `503` when a record it reads is damaged (not valid JSON).

    The platform listens on loopback only, but a web page whose domain an attacker re-binds to
    127.0.0.1 reaches it under that domain's name, and the built-in policy's credentials are
    public: it would get tokens, record events and raise approvals for a person to decide.
    """

    async def run(request: Request) -> Response:
        host = request.headers.get("host", "")
        if not is_loopback_host_header(host):
            return _error(
                403, "forbidden", f"the platform answers loopback host names only, not {host!r}"
            )
        try:
            return await handler(request)
        except sqlite3.Error as exc:
            # Locked by another process (a CLI command, a second server) past the busy
            # timeout, or unreadable: a retryable 503 the SDK waits out (ingest) or denies on
            # (authorization), not a 500 and a traceback. The failed transaction rolled back.
            answer = _error(503, "unavailable", f"database error: {exc}")
            answer.headers["Retry-After"] = _DATABASE_RETRY_AFTER_S
            return answer
        except json.JSONDecodeError as exc:
            # The file reads, but a record it needs (an approval, a grant) was edited by hand
            # or damaged: said as the console says it, not a bare 500 and a logged traceback.
            # Governance still denies (any non-2xx is a deny).
            return _error(
                503, "unavailable", f"database error: a stored record is not valid JSON ({exc})"
            )

    return run


def create_app(policy: Policy, store: PlatformStore) -> Starlette:
    """The Starlette app serving the wire contract from `policy`, storing into `store`."""
    engine = Engine(policy, store)

    def authenticate(request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            try:
                claims = verify_token(store.signing_key, header[7:].strip(), now=store.clock())
            except TokenError as exc:
                raise _Unauthorized(str(exc)) from exc
            agent = policy.agent(str(claims["sub"]))
            if agent is None or agent.disabled:
                raise _Unauthorized("the token's agent is unknown or disabled")
            grant_id = claims.get("grant_id")
            if grant_id is None:
                return Principal(agent)
            grant = store.grant(str(grant_id))
            if grant is None or grant.to_agent != agent.agent_id:
                raise _Unauthorized("the token's grant is unknown")
            if grant.expires_at_s <= store.clock():
                raise _Unauthorized("the token's grant has expired")
            # Disabling any agent the authority passed through revokes what it delegated on.
            for link in grant.chain:
                member = policy.agent(link)
                if member is None or member.disabled:
                    raise _Unauthorized(
                        f"agent {link} in the token's delegation chain is unknown or disabled"
                    )
            return Principal(agent, grant)
        key = request.headers.get("x-ingest-key")
        if key:
            agent = policy.agent_by_ingest_key(key)
            if agent is None or agent.disabled:
                raise _Unauthorized("unknown or disabled ingest key")
            return Principal(agent)
        raise _Unauthorized("send Authorization: Bearer <token> or X-Ingest-Key")

    async def read_json(request: Request, *, events: bool) -> object:
        raw = await read_limited(
            request.stream(),
            declared_length=request.headers.get("content-length"),
            limit=MAX_BODY_BYTES,
        )
        return decode_body(
            raw, request.headers.get("content-encoding"), deep_payloads_as_text=events
        )

    def endpoint(
        handler: Callable[[Request, Principal, object], JSONResponse], *, events: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        """`handler` behind authentication and body decoding; `events`: an events body, whose
        payloads too deep to decode are stored as their text (`decode_body`)."""

        async def run(request: Request) -> Response:
            try:
                principal = await run_in_threadpool(authenticate, request)
            except _Unauthorized as exc:
                return _error(401, "unauthorized", str(exc))
            try:
                body = await read_json(request, events=events)
            except ClientDisconnect:
                return _gone()
            except IngestError as exc:
                if request.url.path.startswith("/v1/ingest/"):
                    await run_in_threadpool(
                        store.count_rejection, principal.agent.agent_id, exc.error
                    )
                return _error(400, exc.error, exc.detail)
            try:
                return await run_in_threadpool(handler, request, principal, body)
            except RequestError as exc:
                return _error(400, "invalid_request", str(exc))

        return _loopback_only(run)

    def ingest_events(_: Request, principal: Principal, body: object) -> JSONResponse:
        agent_id = principal.agent.agent_id
        try:
            events = validate_events(body)
        except IngestError as exc:
            store.count_rejection(agent_id, exc.error)
            return _error(400, exc.error, exc.detail)
        result = store.ingest_events(agent_id, events)
        return JSONResponse(
            {"accepted": len(events), "stored": result.stored, "duplicates": result.duplicates}
        )

    def ingest_traces(_: Request, principal: Principal, body: object) -> JSONResponse:
        agent_id = principal.agent.agent_id
        try:
            close = validate_close(body)
        except IngestError as exc:
            store.count_rejection(agent_id, exc.error)
            return _error(400, exc.error, exc.detail)
        stored = store.ingest_trace_close(agent_id, close)
        return JSONResponse({"accepted": 1, "stored": int(stored), "duplicates": int(not stored)})

    def as_object(body: object) -> JsonObject:
        if not isinstance(body, dict):
            raise RequestError("body must be a JSON object")
        return cast(JsonObject, body)

    def authorize(_: Request, principal: Principal, body: object) -> JSONResponse:
        return JSONResponse(engine.authorize(principal, as_object(body)))

    def tool_authorize(_: Request, principal: Principal, body: object) -> JSONResponse:
        return JSONResponse(engine.tool_authorize(principal, as_object(body)))

    def attenuate_grant(request: Request, principal: Principal, body: object) -> JSONResponse:
        grant_id = request.path_params["grant_id"]
        if principal.grant is None or principal.grant.grant_id != grant_id:
            return JSONResponse(
                {
                    "error": "forbidden",
                    "reason": f"the bearer is not a delegated token of {grant_id}",
                },
                403,
            )
        try:
            token = attenuate(store, policy, principal.grant, as_object(body))
        except DelegationRefused as exc:
            return JSONResponse({"error": "subset_violation", "reason": str(exc)}, 403)
        return JSONResponse(
            {
                "token": {
                    "accessToken": token.access_token,
                    "tokenType": "Bearer",
                    "expiresIn": token.expires_in,
                    "jti": token.jti,
                }
            }
        )

    async def get_approval(request: Request) -> Response:
        try:
            principal = await run_in_threadpool(authenticate, request)
        except _Unauthorized as exc:
            return _error(401, "unauthorized", str(exc))
        approval_id = request.path_params["approval_id"]
        approval = await run_in_threadpool(store.approval, approval_id)
        # The caller's own approvals only: one held under a delegated token is the delegate's
        # (`Engine` files it under the token's agent). A grant is no licence to read those of
        # the agent it acts for, which may be of payments the grant does not cover. And only on
        # the behalf it was held on: one held acting for an agent is not the delegate's when it
        # acts for another (or on its own authority), nor one held on its own authority when it
        # acts for someone: a person approved it for that agent (as `/v1/tool-authorize`'s
        # approved calls, whose digest names whom the call is made for).
        acting_for = principal.grant.acting_for if principal.grant is not None else None
        if (
            approval is None
            or approval.agent_id != principal.agent.agent_id
            or approval.acting_for != acting_for
        ):
            return _error(404, "not_found", f"no approval {approval_id} for this agent")
        return JSONResponse(approval.to_json())

    def issue_token(body: bytes, content_type: str) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        grant_type = form.get("grant_type")
        if grant_type is None:
            # RFC 6749 §5.2: a missing parameter is `invalid_request`; say why it was not found.
            sent = content_type.partition(";")[0].strip().lower()
            as_sent = f" (the body was sent as {sent})" if sent and sent != _FORM else ""
            return _error(
                400,
                "invalid_request",
                "grant_type is required: send grant_type=client_credentials, client_id and"
                f" client_secret as an {_FORM} form{as_sent}",
            )
        if grant_type != "client_credentials":
            return _error(400, "unsupported_grant_type", "grant_type must be client_credentials")
        agent = policy.agent_by_client_id(form.get("client_id", ""))
        if agent is None or not agent.client_secret_matches(form.get("client_secret")):
            return _error(401, "invalid_client", "unknown client_id or wrong client_secret")
        if agent.disabled:
            return _error(401, "invalid_client", f"agent {agent.agent_id} is disabled")
        token = issue_access_token(
            store.signing_key,
            agent_id=agent.agent_id,
            permissions=list(agent.permissions),
            ttl_seconds=policy.token_ttl_seconds,
            now=store.clock(),
        )
        return JSONResponse(
            {
                "access_token": token.access_token,
                "token_type": "Bearer",
                "expires_in": token.expires_in,
            }
        )

    async def token(request: Request) -> Response:
        # Anyone may call this endpoint: read no more than a client-credentials form needs, as
        # sent and decoded (a form gzipped as the other endpoints' bodies may be).
        try:
            raw = await read_limited(
                request.stream(),
                declared_length=request.headers.get("content-length"),
                limit=_MAX_TOKEN_FORM_BYTES,
            )
            form = decode_content(
                raw, request.headers.get("content-encoding"), limit=_MAX_TOKEN_FORM_BYTES
            )
        except ClientDisconnect:
            return _gone()
        except IngestError as exc:
            return _error(400, "invalid_request", exc.detail)
        return await run_in_threadpool(issue_token, form, request.headers.get("content-type", ""))

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/v1/oauth/token", _loopback_only(token), methods=["POST"]),
            Route("/v1/ingest/events", endpoint(ingest_events, events=True), methods=["POST"]),
            Route("/v1/ingest/traces", endpoint(ingest_traces), methods=["POST"]),
            Route("/v1/authorize", endpoint(authorize), methods=["POST"]),
            Route("/v1/tool-authorize", endpoint(tool_authorize), methods=["POST"]),
            Route(
                "/v1/delegations/{grant_id}/attenuate", endpoint(attenuate_grant), methods=["POST"]
            ),
            Route("/v1/approvals/{approval_id}", _loopback_only(get_approval), methods=["GET"]),
            Route("/healthz", _loopback_only(health), methods=["GET"]),
            # The web console (issue 10): `/`, `/console/...`.
            *console_routes(store, (agent.agent_id for agent in policy.agents)),
        ]
    )
