"""CLI commands over the local platform's store: traces, approvals, approve, deny, grant.

They open the SQLite file directly, so they work while `tracengent dev` serves the same file.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

from opentelemetry.exporter.tracengent.environment_variables import TRACENGENT_DEV_DB
from opentelemetry.exporter.tracengent.jsonvalue import JsonValue

if TYPE_CHECKING:
    from tracengent.platform import PlatformStore, Policy

__all__ = [
    "approvals",
    "approve",
    "db_option",
    "default_db_path",
    "deny",
    "grant",
    "load_policy_option",
    "open_store",
    "traces",
]


def default_db_path() -> Path:
    """`TRACENGENT_DEV_DB`, else (unset or blank) `dev.sqlite3` in the user's data dir
    (platformdirs)."""
    configured = os.environ.get(TRACENGENT_DEV_DB, "")
    if configured.strip():
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_data_dir("tracengent", appauthor=False)) / "dev.sqlite3"


db_option = click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"SQLite file of the local platform (default: ${TRACENGENT_DEV_DB} or the user data dir).",
)

policy_option = click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="TOML policy file (default: the built-in policy).",
)


def load_policy_option(policy_path: Path | None) -> Policy:
    """The policy of `--policy` (or the built-in one).

    Raises:
        click.ClickException: the file is not a valid policy (the message names the key), or
            not UTF-8 text (`load_policy` says so as a `PolicyError`).
    """
    from tracengent.platform import PolicyError, default_policy, load_policy

    try:
        return load_policy(policy_path) if policy_path else default_policy()
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from exc


def open_store(db: Path | None, *, create: bool = False) -> PlatformStore:
    """The store at `db` (or the default file), migrated if needed; with `create`, created too.

    The commands that read or decide what a platform stored do not create it: a mistyped path
    would show nothing, and a grant would be signed with a new file's key, which the platform
    actually running refuses.

    Raises:
        click.ClickException: the file is missing (without `create`), or cannot be opened or
            created as the platform's database (not a database, an unusable path, locked by
            another process, a newer schema).
    """
    from tracengent.platform import PlatformStore

    path = db or default_db_path()
    if not create and not path.exists():
        raise click.ClickException(
            f"no platform database at {path}: start `tracengent dev` first, or pass the --db"
            f" (or ${TRACENGENT_DEV_DB}) it serves"
        )
    try:
        return PlatformStore(path)
    except (sqlite3.Error, OSError, RuntimeError) as exc:
        raise click.ClickException(f"cannot open the database {path}: {exc}") from exc


def _json_escaped(line: str) -> str:
    return "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in line)


def _dump(value: JsonValue) -> str:
    """`value` as indented JSON that is safe on a terminal, non-ASCII text kept readable.

    JSON escapes only C0 controls: a C1 control an agent sent (U+009B is CSI, `ESC [`), a bidi
    override or a line separator would reach the terminal raw. Outside strings the text is
    printable ASCII and newlines, so each such character shows as its `\\u` escape instead.
    """
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return "\n".join(
        line if line.isprintable() else _json_escaped(line) for line in text.split("\n")
    )


@click.command()
@db_option
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most N traces.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (events as received).")
def traces(db: Path | None, limit: int | None, as_json: bool) -> None:
    """Show decision traces as trees, newest first, then standalone events."""
    from tracengent.cli._render import render_traces

    store = open_store(db)
    found = store.traces(limit=limit)
    standalone = store.standalone_events()
    if as_json:
        click.echo(
            _dump(
                {
                    "traces": [t.to_json() for t in found],
                    "standaloneEvents": [e.body for e in standalone],
                }
            )
        )
        return
    render_traces(found, standalone, click.echo)


@click.command()
@db_option
@click.option(
    "--status",
    type=click.Choice(["pending", "approved", "denied", "expired"]),
    default=None,
    help="Only approvals with this status.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def approvals(db: Path | None, status: str | None, as_json: bool) -> None:
    """List approvals (pending ones wait for `tracengent approve` or `tracengent deny`)."""
    from tracengent.cli._render import plain

    found = open_store(db).approvals(status=status)
    if as_json:
        click.echo(_dump({"approvals": [a.to_json() for a in found]}))
        return
    if not found:
        click.echo("no approvals")
    for a in found:
        amount = f" {a.amount:g} {plain(a.currency or '')}".rstrip() if a.amount is not None else ""
        # Held under a delegated token: asked on another agent's authority.
        behalf = f" (acting for {a.acting_for})" if a.acting_for is not None else ""
        click.echo(
            f"{a.approval_id} [{a.status}] {a.agent_id}{behalf} {plain(a.permission)}{amount}"
            f" {a.created_at}"
        )


def _decide(db: Path | None, approval_id: str, approved: bool) -> None:
    from tracengent.platform import StoreError

    store = open_store(db)
    try:
        record = store.decide_approval(approval_id, approved)
    except StoreError as exc:
        hint = (
            ": `tracengent approvals --status pending` lists the pending ones of this database "
            f"({store.path})"
            if store.approval(approval_id) is None
            else ""
        )
        raise click.ClickException(f"{exc}{hint}") from exc
    click.echo(f"{record.approval_id} {record.status}")


@click.command()
@db_option
@click.argument("approval_id")
def approve(db: Path | None, approval_id: str) -> None:
    """Approve a pending approval (the waiting agent proceeds)."""
    _decide(db, approval_id, True)


@click.command()
@db_option
@click.argument("approval_id")
def deny(db: Path | None, approval_id: str) -> None:
    """Deny a pending approval (the waiting agent is refused)."""
    _decide(db, approval_id, False)


_MAX_GRANT_TTL_SECONDS: Final = 100 * 31_557_600
"""The longest `--ttl` (100 Julian years): beyond any clock's range, far beyond any use. The
platform's `MAX_GRANT_TTL_SECONDS`, which this module does not import (the CLI loads the platform
only when a command runs); a test holds the two equal."""


def _finite_amount(
    _ctx: click.Context, _param: click.Parameter, value: float | None
) -> float | None:
    # click's FloatRange lets `nan` and `inf` through; a NaN cap would be stored as no cap at all.
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"expected a finite number >= 0, got {value}")
    return value


@click.command()
@db_option
@policy_option
@click.option("--from", "from_agent", required=True, help="The delegating agent id.")
@click.option("--to", "to_agent", required=True, help="The agent that receives the token.")
@click.option(
    "--permissions",
    required=True,
    help="Comma-separated permissions (patterns) to delegate, e.g. flights:search,hotels:*.",
)
@click.option(
    "--max-amount",
    type=click.FloatRange(min=0),
    default=None,
    callback=_finite_amount,
    help="Amount cap (policy currency).",
)
@click.option(
    "--ttl",
    type=click.IntRange(min=1, max=_MAX_GRANT_TTL_SECONDS),
    default=3600,
    show_default=True,
    help="Lifetime in seconds (at most 100 years).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def grant(
    db: Path | None,
    policy_path: Path | None,
    from_agent: str,
    to_agent: str,
    permissions: str,
    max_amount: float | None,
    ttl: int,
    as_json: bool,
) -> None:
    """Create a delegation grant and print the delegated token (JWT) for the --to agent."""
    from tracengent.platform import DelegationRefused, create_grant

    policy = load_policy_option(policy_path)
    wanted = [p.strip() for p in permissions.split(",") if p.strip()]
    try:
        record, token = create_grant(
            open_store(db),
            policy,
            from_agent=from_agent,
            to_agent=to_agent,
            permissions=wanted,
            ttl_seconds=ttl,
            max_amount=max_amount,
        )
    except DelegationRefused as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(
            _dump(
                {
                    "grantId": record.grant_id,
                    "accessToken": token.access_token,
                    "tokenType": "Bearer",
                    "expiresIn": token.expires_in,
                    "jti": token.jti,
                }
            )
        )
        return
    click.echo(
        f"grant {record.grant_id}: {to_agent} may act for {from_agent} on {', '.join(wanted)}"
    )
    click.echo(token.access_token)
