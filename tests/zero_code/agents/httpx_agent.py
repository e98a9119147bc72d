"""A plain httpx agent that knows nothing of Tracengent: run under `opentelemetry-instrument`.

It opens its decision trace the GenAI way (an `invoke_agent` span, as any agent framework's
instrumentation does), then calls tools over HTTP. argv: tool server URL, then paths to GET; a
path starting with `post:` is POSTed with a JSON body instead; `sleep:<seconds>` waits (still in
the trace) instead of calling. Prints one line per call.
"""

import sys
import time

import httpx
from opentelemetry import trace

tracer = trace.get_tracer("sample-agent")


def main() -> None:
    base_url, *paths = sys.argv[1:]
    with (
        tracer.start_as_current_span(
            "invoke_agent refund-bot",
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "refund-bot",
                "tracengent.trace.root_request": "refund order 42",
            },
        ),
        httpx.Client(base_url=base_url, timeout=10) as client,
    ):
        for path in paths:
            if path.startswith("sleep:"):
                time.sleep(float(path[6:]))
                continue
            try:
                if path.startswith("post:"):
                    response = client.post(path[5:], json={"order": 42, "card": "4111-1111"})
                else:
                    response = client.get(path)
                print(f"{path} -> {response.status_code}")
            except Exception as exc:  # the agent reports a refused call and goes on
                print(f"{path} -> {type(exc).__name__}: {exc}")


if __name__ == "__main__":
    main()
