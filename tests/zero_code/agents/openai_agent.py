"""An agent using the official `openai` client, instrumented by opentelemetry-instrumentation-openai-v2.

argv: the OpenAI-compatible base URL. It knows nothing of Tracengent.
"""

import sys

from openai import OpenAI
from opentelemetry import trace

tracer = trace.get_tracer("openai-agent")


def main() -> None:
    client = OpenAI(base_url=sys.argv[1], api_key="sk-test-not-a-secret")
    with tracer.start_as_current_span(
        "invoke_agent support-bot",
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "tracengent.trace.root_request": "answer the customer",
        },
    ):
        completion = client.chat.completions.create(
            model="gpt-test-mini", messages=[{"role": "user", "content": "Refund order 42?"}]
        )
    print(completion.choices[0].message.content)


if __name__ == "__main__":
    main()
