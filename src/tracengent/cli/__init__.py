"""The `tracengent` command line: the local platform (`dev`, `demo`) and its store commands."""

from __future__ import annotations

import errno
import json
import sqlite3
import tempfile
from pathlib import Path
from typing import Any, Final

import click

from tracengent.cli._store_commands import (
    approvals,
    approve,
    db_option,
    default_db_path,
    deny,
    grant,
    load_policy_option,
    open_store,
    policy_option,
    traces,
)

__all__ = ["main"]


_PLATFORM_EXTRA: Final = frozenset({"jwt", "mcp", "platformdirs", "starlette", "tomli", "uvicorn"})
"""The modules of the `platform` extra the commands import (`pip install 'tracengent[platform]'`)."""


class _Commands(click.Group):
    """The command group; a database error inside any command is one line of error, exit 1, and
    so is a missing dependency of the `platform` extra (the script comes with the base package)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as exc:
            if (exc.name or "").partition(".")[0] not in _PLATFORM_EXTRA:
                raise
            raise click.ClickException(
                f"this command needs the platform extra: pip install 'tracengent[platform]' ({exc})"
            ) from exc
        except sqlite3.Error as exc:
            # The file opened, then an operation failed: locked past the busy timeout, corrupt.
            raise click.ClickException(f"database error: {exc}") from exc
        except json.JSONDecodeError as exc:
            # Only the store parses JSON here: a record edited by hand or damaged.
            raise click.ClickException(
                f"database error: a stored record is not valid JSON ({exc})"
            ) from exc


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Tracengent: decision traces and governance for AI agents.

    `tracengent dev` runs the local platform; the other commands read and decide what it stored.
    """


def _loopback(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    from tracengent.platform._server import is_loopback_name

    # The built-in policy's credentials are public: the platform must not be reachable off host.
    if not is_loopback_name(value):
        raise click.BadParameter(
            f"{value} is not a loopback address (127.0.0.1, ::1 or localhost): the local"
            " platform serves this machine only"
        )
    return value


@main.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    callback=_loopback,
    help="Loopback address to listen on.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port (0: any free port).",
)
@db_option
@policy_option
def dev(host: str, port: int, db: Path | None, policy_path: Path | None) -> None:
    """Serve the whole Tracengent wire contract locally (stop with Ctrl-C)."""
    from tracengent.platform._server import bind_socket, make_server

    policy = load_policy_option(policy_path)
    path = db or default_db_path()
    store = open_store(path, create=True)
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        hint = (
            " (another `tracengent dev` running? pass another --port, or --port 0 for any free one)"
            if exc.errno == errno.EADDRINUSE
            else ""
        )
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}{hint}") from exc
    try:
        # Before the banner, or a server that cannot be made (no uvicorn) is announced as serving.
        server = make_server(policy, store, log_level="info")
    except BaseException:
        sock.close()
        raise
    bound = int(sock.getsockname()[1])
    shown_host = f"[{host}]" if ":" in host else host
    click.echo(f"database: {path}")
    click.echo(f"policy:   {policy_path or 'built-in default'}")
    click.echo(f"listening on http://{shown_host}:{bound}  (Ctrl-C to stop)")
    click.echo(f"console:  http://{shown_host}:{bound}/  (traces; approve or deny approvals)")
    click.echo("agents:")
    for agent in policy.agents:
        if agent.disabled:
            click.echo(f"  {agent.agent_id}: disabled")
            continue
        credentials = []
        if agent.client_id:
            credentials.append(f"client_id={agent.client_id} client_secret={agent.client_secret}")
        if agent.ingest_key:
            credentials.append(f"ingest_key={agent.ingest_key}")
        click.echo(f"  {agent.agent_id}: {' '.join(credentials) or 'no credentials'}")
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn shuts down gracefully, then re-raises the SIGINT it captured: Ctrl-C is the
        # documented way to stop, so it ends cleanly rather than as click's "Aborted!".
        pass
    finally:
        sock.close()
    click.echo("stopped")


@main.command()
@click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="SQLite file to record into (default: a temporary database, removed afterwards).",
)
def demo(db: Path | None) -> None:
    """Run a sample agent against an in-process local platform, then show what it recorded."""
    from tracengent import _demo
    from tracengent.cli._render import render_traces
    from tracengent.platform import LocalPlatform

    with tempfile.TemporaryDirectory(prefix="tracengent-demo-") as scratch:
        path = db or Path(scratch) / "demo.sqlite3"
        open_store(path, create=True)  # a --db unfit for a database: one line of error
        with LocalPlatform(path) as platform:
            click.echo(f"local platform on {platform.url} (database {path})")
            store = platform.store
            # What a --db already held is not the demo's: only what this run stored is shown.
            # (Both read an index: the newest trace's latest sequence number, the newest event
            # outside a trace; closes draw from the events' sequence.)
            before = max(
                [head.latest_seq for head in store.trace_heads()[:1]]
                + [event.seq for event in store.newest_standalone_events(1)],
                default=0,
            )
            # The demo's person decides only the approvals its own agents ask for (by the id
            # each authorize returned), never one a --db already held or another agent's.
            _demo.run(
                _demo.DemoPlatform.of_local(platform),
                click.echo,
            )
            click.echo("")
            click.echo("what the platform stored:")
            render_traces(
                [t for t in store.traces() if any(e.seq > before for e in t.events)],
                [e for e in store.standalone_events() if e.seq > before],
                click.echo,
            )


for _command in (traces, approvals, approve, deny, grant):
    main.add_command(_command)
