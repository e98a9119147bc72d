"""An OpenAI-compatible chat-completions endpoint on loopback, for real GenAI instrumentation tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.loopback import LoopbackServer, Received, Reply, json_reply, serve

PROMPT_TOKENS = 11
COMPLETION_TOKENS = 7
MODEL = "gpt-test-mini"


def _answer(request: Received) -> Reply:
    if request.path.rstrip("/").endswith("/chat/completions"):
        return json_reply(
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": 1_764_000_000,
                "model": MODEL,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "Refund approved."},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": PROMPT_TOKENS,
                    "completion_tokens": COMPLETION_TOKENS,
                    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
                },
            }
        )
    return json_reply({"error": {"message": "not found"}}, status=404)


@contextmanager
def openai_server() -> Iterator[LoopbackServer]:
    """Serve `/v1/chat/completions` answering one fixed completion with known token usage."""
    with serve(_answer) as server:
        yield server
