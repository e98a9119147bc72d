"""Run by `test_multiprocessing_review3.py` in a fresh interpreter: a fork `Pool` whose workers
each make their own client (in the initializer), record one event a task, and are closed and
joined. Alone in its process, so no processor made before the fork can flush the workers' own
at their exit. Usage: `python pool_worker_clients.py <platform url> <agent> <id> <secret>`."""

from __future__ import annotations

import multiprocessing
import sys

from tracengent import AgentEvent, EventTypes, TracengentClient, TracengentOptions

_CLIENTS: list[TracengentClient] = []


def _start_worker_client(options: TracengentOptions) -> None:
    _CLIENTS.append(TracengentClient(options))


def _record(name: str) -> None:
    _CLIENTS[-1].record(AgentEvent(name=name, type=EventTypes.ACTION))


def main() -> None:
    """Record six events in two workers, then let the workers end."""
    url, agent, client_id, secret = sys.argv[1:5]
    options = TracengentOptions(
        agent_id=agent,
        base_url=url,
        client_id=client_id,
        client_secret=secret,
        flush_interval_ms=60_000,  # nothing leaves on the schedule: only the exit flush sends
    )
    context = multiprocessing.get_context("fork")
    with context.Pool(2, initializer=_start_worker_client, initargs=(options,)) as pool:
        pool.map(_record, [f"worker-task-{index}" for index in range(6)])
        pool.close()
        pool.join()


if __name__ == "__main__":
    main()
