"""An agent that records events and exits WITHOUT close(): `python exit_agent.py URL COUNT`."""

from __future__ import annotations

import sys

from tracengent import AgentEvent, EventTypes, TracengentClient, TracengentOptions


def main() -> None:
    """Record COUNT events against URL, then return without closing the client."""
    url, count = sys.argv[1], int(sys.argv[2])
    options = TracengentOptions(
        agent_id="chaos-agent",
        base_url=url,
        client_id="key_chaos",
        client_secret="ags_chaos_secret",
        flush_interval_ms=60_000,
        request_timeout_s=2.0,
    )
    client = TracengentClient(options)
    for i in range(count):
        client.record(AgentEvent(name=f"exit-{i}", type=EventTypes.ACTION))


if __name__ == "__main__":
    main()
