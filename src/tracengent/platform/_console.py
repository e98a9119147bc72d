"""The web console's routes: the page at `/`, its JSON endpoints, static files, approve / deny.

The console has no account: it answers only requests addressed to a loopback host name (so a
DNS-rebinding page cannot read it), and a decision must carry the page's CSRF token and, when
the browser says where it comes from, come from the console's own origin.
"""

from __future__ import annotations

import hmac
import json
import secrets
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from importlib import resources
from typing import Final
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tracengent.platform._console_html import (
    render_approvals,
    render_counters,
    render_page,
    render_standalone,
    render_traces,
)
from tracengent.platform._console_view import ConsoleFilters, approval_view, load_state
from tracengent.platform._ingest import IngestError, decode_content, read_limited
from tracengent.platform._records import StoreError
from tracengent.platform._server import is_loopback_host_header
from tracengent.platform.store import PlatformStore

__all__ = ["CSRF_HEADER", "console_routes"]

CSRF_HEADER: Final = "x-tracengent-csrf"
"""The header the page's script sends the CSRF token in (a form sends field `csrf_token`)."""

_MAX_FORM_BYTES: Final = 4096
_STATIC: Final = {
    "console.css": "text/css",
    "console.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}
_SECURITY_HEADERS: Final = {
    # No inline script or style anywhere: an event named `<script>` that slipped through
    # escaping would still not run. No framing: the Approve button cannot be clickjacked.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
        " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _static_file(name: str) -> bytes:
    return (resources.files("tracengent.platform") / "console" / name).read_bytes()


def console_routes(store: PlatformStore, agent_ids: Iterable[str] = ()) -> list[Route]:
    """The console's routes over `store`; `agent_ids` (the policy's) fill the agent filter."""
    csrf_token = secrets.token_urlsafe(32)
    known_agents = tuple(agent_ids)
    static = {name: _static_file(name) for name in _STATIC}

    def loopback_only(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            if not is_loopback_host_header(request.headers.get("host", "")):
                return JSONResponse(
                    {"error": "forbidden", "detail": "the console answers loopback hosts only"},
                    403,
                )
            try:
                response = await handler(request)
            except sqlite3.Error as exc:
                # Locked by another process past the busy timeout, or unreadable: the page's
                # script shows the detail and retries, rather than a bare 500.
                response = JSONResponse(
                    {"error": "unavailable", "detail": f"database error: {exc}"}, 503
                )
            except json.JSONDecodeError as exc:
                # The file reads, but a record in it was edited by hand or damaged.
                response = JSONResponse(
                    {
                        "error": "unavailable",
                        "detail": f"database error: a stored record is not valid JSON ({exc})",
                    },
                    503,
                )
            response.headers.update(_SECURITY_HEADERS)
            return response

        return run

    def filters(request: Request) -> ConsoleFilters:
        return ConsoleFilters.from_query(request.query_params)

    async def page(request: Request) -> Response:
        chosen = filters(request)
        state = await run_in_threadpool(load_state, store, chosen, known_agents)
        return HTMLResponse(render_page(state, chosen, csrf_token))

    async def state_json(request: Request) -> Response:
        state = await run_in_threadpool(load_state, store, filters(request), known_agents)
        return JSONResponse(state.to_json())

    async def fragments(request: Request) -> Response:
        state = await run_in_threadpool(load_state, store, filters(request), known_agents)
        return JSONResponse(
            {
                "approvals": render_approvals(
                    state.approvals, csrf_token, total=state.approvals_total
                ),
                "counters": render_counters(state.counters),
                "traces": render_traces(state),
                "standalone": render_standalone(state),
                "pendingApprovals": state.approvals_total,
            }
        )

    async def static_file(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in static:
            return JSONResponse({"error": "not_found", "detail": name}, 404)
        return Response(static[name], media_type=_STATIC[name])

    def same_origin(request: Request, form_token: str | None) -> str | None:
        """Why this decision request is refused, or None when it may proceed."""
        origin = request.headers.get("origin")
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        if origin is not None and origin != own:
            return f"cross-origin request from {origin}"
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return "cross-site request"
        token = request.headers.get(CSRF_HEADER) or form_token or ""
        if not hmac.compare_digest(token.encode(), csrf_token.encode()):
            return "missing or wrong CSRF token (reload the console)"
        return None

    async def decide(request: Request) -> Response:
        verb = request.path_params["verb"]
        if verb not in ("approve", "deny"):
            return JSONResponse({"error": "not_found", "detail": f"no action {verb}"}, 404)
        approved = verb == "approve"
        approval_id = request.path_params["approval_id"]
        try:
            raw = await read_limited(
                request.stream(),
                declared_length=request.headers.get("content-length"),
                limit=_MAX_FORM_BYTES,
            )
            # Decoded as the API's bodies are (a gzipped form), under the same limit.
            body = decode_content(
                raw, request.headers.get("content-encoding"), limit=_MAX_FORM_BYTES
            )
        except ClientDisconnect:
            # The browser went away mid-form (a tab closed): nobody reads the answer, and the
            # approval stays undecided. Raising would have uvicorn log a traceback.
            return Response(status_code=400)
        except IngestError as exc:
            if exc.error == "too large":
                return JSONResponse({"error": "too_large", "detail": "form too large"}, 413)
            return JSONResponse({"error": "invalid_request", "detail": exc.detail}, 400)
        form = parse_qs(body.decode("utf-8", "replace"))
        refused = same_origin(request, form.get("csrf_token", [None])[0])
        if refused is not None:
            return JSONResponse({"error": "forbidden", "detail": refused}, 403)
        if await run_in_threadpool(store.approval, approval_id) is None:
            return JSONResponse({"error": "not_found", "detail": f"no approval {approval_id}"}, 404)
        try:
            record = await run_in_threadpool(store.decide_approval, approval_id, approved)
        except StoreError as exc:
            return JSONResponse({"error": "conflict", "detail": str(exc)}, 409)
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"approval": approval_view(record)})
        # A plain form post (no script): back to the console, as after any form.
        return RedirectResponse("/", status_code=303)

    return [
        Route("/", loopback_only(page), methods=["GET"]),
        Route("/console/api/state", loopback_only(state_json), methods=["GET"]),
        Route("/console/api/fragments", loopback_only(fragments), methods=["GET"]),
        Route("/console/static/{name}", loopback_only(static_file), methods=["GET"]),
        Route(
            "/console/approvals/{approval_id}/{verb}",
            loopback_only(decide),
            methods=["POST"],
        ),
    ]
