"""An agent that uses the Tracengent client API in a process already set up by zero code.

Its events must be exported once: the client adopts the zero-code pipeline instead of adding a
second context processor and exporter to the same provider.
"""

import tracengent


def main() -> None:
    with tracengent.TracengentClient(tracengent.TracengentOptions.from_env()) as client:
        with client.begin_trace("rebook flight 7") as trace:
            trace.step("look for seats")
            trace.track_tool_call("search", lambda: ["7A"], input={"flight": 7})
            trace.track_action("rebook", lambda: "ok", cost=tracengent.Money.eur(30))
        print(f"trace {trace.trace_id}")


if __name__ == "__main__":
    main()
