"""The MCP instrumentation writes the GenAI semantic conventions' attribute names itself (the
incubating module of the semantic-conventions releases it supports, 0.51b0 on, lacks the tool
call's arguments and result): they are the names the exporter reads a tool call's event from."""

from __future__ import annotations

from opentelemetry.exporter.tracengent import attributes as A
from opentelemetry.instrumentation.tracengent_mcp import _flow


def test_the_names_written_are_the_names_the_exporter_reads() -> None:
    assert (
        _flow._OPERATION_NAME,
        _flow._TOOL_NAME,
        _flow._TOOL_CALL_ARGUMENTS,
        _flow._TOOL_CALL_RESULT,
        _flow._EXECUTE_TOOL,
    ) == (
        A.GEN_AI_OPERATION_NAME,
        A.GEN_AI_TOOL_NAME,
        A.GEN_AI_TOOL_CALL_ARGUMENTS,
        A.GEN_AI_TOOL_CALL_RESULT,
        A.OPERATION_EXECUTE_TOOL,
    )
