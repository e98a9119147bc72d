"""Zero code under OTel's declarative configuration (`OTEL_CONFIG_FILE`), the real
`opentelemetry-instrument` in a subprocess: the file builds the SDK, Tracengent joins it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import cast

import pytest

from tests.support.loopback import LoopbackServer, Received, Reply, json_reply, serve
from tests.support.otlp_receiver import (
    otlp_receiver,
    received_resource_attributes,
    received_span_attributes,
)
from tests.zero_code.conftest import Run, platform_environment, run_instrumented, traces_json
from tracengent.testing import RunningPlatform

_ROOT = "invoke_agent refund-bot"
_SECRET = "sekret-4711"
_IGNORED_KWARGS = "ignoring configurator kwargs"
README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_config(name: str = "declarative") -> str:
    """The README's declarative configuration example marked `<!-- config: name -->`."""
    marked = re.compile(rf"<!-- config: {name} -->\n```yaml\n(.*?)```", re.DOTALL)
    (match,) = marked.finditer(README.read_text(encoding="utf-8"))
    return match.group(1)


def _config_file(directory: Path, text: str) -> str:
    path = directory / "otel-config.yaml"
    path.write_text('file_format: "1.0"\n' + text, encoding="utf-8")
    return str(path)


def _file_environment(platform: RunningPlatform, config_file: str, **extra: str) -> dict[str, str]:
    """The default agent's `TRACENGENT_*` settings; the SDK from `config_file`, no other
    `OTEL_*` variable (the file decides)."""
    environment = platform_environment(platform, OTEL_CONFIG_FILE=config_file, **extra)
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER"):
        del environment[name]
    return environment


def _exporting_to(directory: Path, exporter: str, *, processor: str = "simple") -> str:
    """A file whose provider sends each span through `exporter` (its YAML key)."""
    delay = "\n        schedule_delay: 50" if processor == "batch" else ""
    return _config_file(
        directory,
        f"""
tracer_provider:
  processors:
    - {processor}:{delay}
        exporter:
          {exporter}:
""",
    )


def _run_agent(
    platform: RunningPlatform, config_file: str, *paths: str, **extra: str
) -> tuple[Run, LoopbackServer]:
    """The httpx agent under `config_file`, calling `paths` of a tool server of its own."""
    with serve(lambda _: json_reply({})) as tools:
        run = run_instrumented(
            "httpx_agent.py", [tools.url, *paths], _file_environment(platform, config_file, **extra)
        )
    assert run.returncode == 0, run.stderr
    return run, tools


def _events(platform: RunningPlatform) -> list[dict[str, object]]:
    (trace,) = traces_json(platform)["traces"]
    assert trace["rootRequest"] == "refund order 42"
    assert trace["status"] == "completed"
    return cast(list[dict[str, object]], trace["events"])


def test_the_files_pipeline_runs_with_tracengent_beside_it(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """The README's file: its OTLP export gets the spans scrubbed and stamped; Tracengent gets
    the decision trace; nothing warns that the configurator's arguments were ignored."""
    with otlp_receiver() as collector, serve(lambda _: json_reply({"quote": 12})) as tools:
        config = tmp_path / "otel-config.yaml"
        config.write_text(
            _readme_config().replace("http://localhost:4318", collector.url), encoding="utf-8"
        )
        run = run_instrumented(
            "httpx_agent.py",
            [tools.url, f"/quotes/1?api_key={_SECRET}", "/quotes/2"],
            _file_environment(tracengent_platform, str(config)),
        )
        spans = received_span_attributes(collector)
        resource = received_resource_attributes(collector)
    assert run.returncode == 0, run.stderr
    assert resource["service.name"] == "refund-bot"  # the file's resource
    assert _IGNORED_KWARGS not in run.stderr
    first, second = _events(tracengent_platform)
    assert [first["type"], second["type"]] == ["tool_call", "tool_call"]
    assert second["parentEventId"] == first["eventId"]
    # The user's collector: the root stamped with the Tracengent trace id, the URL's credential
    # masked by the scrubbing processor (the secret never left the process).
    (root,) = [attributes for name, attributes in spans if name == _ROOT]
    assert root["tracengent.trace.id"] == first["traceId"]
    values = [value for _, attributes in spans for value in attributes.values()]
    assert [value for value in values if "/quotes/1" in value]
    assert all(_SECRET not in value for value in values)


def test_decision_traces_survive_the_files_always_off_sampler(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """The file's sampler is wrapped as `OTEL_TRACES_SAMPLER`'s is: always_off keeps decision
    traces."""
    config = _config_file(
        tmp_path,
        """
tracer_provider:
  sampler:
    always_off:
  processors:
    - simple:
        exporter:
          console:
""",
    )
    _run_agent(tracengent_platform, config, "/a", "/b")
    assert len(_events(tracengent_platform)) == 2


def test_a_tracengent_exporter_the_file_names_sends_each_event_once(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """The file's own `tracengent` export is Tracengent's pipeline: no second one is added."""
    config = _exporting_to(tmp_path, "tracengent", processor="batch")
    _run_agent(tracengent_platform, config, "/a", "/b")
    first, second = _events(tracengent_platform)
    assert first["eventId"] != second["eventId"]
    assert len(tracengent_platform.store.events()) == 2


def test_a_file_without_a_tracer_provider_leaves_tracengent_its_own(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """No `tracer_provider` section: OTel's spans go nowhere, Tracengent's provider records the
    decision trace."""
    config = _config_file(tmp_path, "\nresource:\n  attributes: []\n")
    _run_agent(tracengent_platform, config, "/a")
    (event,) = _events(tracengent_platform)
    assert event["type"] == "tool_call"


@pytest.mark.parametrize("broken", ["invalid file", "package missing"])
def test_a_file_that_cannot_be_applied_warns_and_tracengent_still_runs(
    tracengent_platform: RunningPlatform, tmp_path: Path, broken: str
) -> None:
    """An invalid file, or `opentelemetry-configuration` not installed: one warning names the
    failure, the agent runs, Tracengent records its decision trace and governs all the same."""
    if broken == "invalid file":
        config = _config_file(tmp_path, "tracer_provider:\n  processors: [oops\n")
        extra: dict[str, str] = {}
    else:
        config = _config_file(tmp_path, "tracer_provider:\n  processors: []\n")
        # A package of that name that cannot be imported, ahead of the installed one.
        shadow = tmp_path / "shadow" / "opentelemetry" / "configuration"
        shadow.mkdir(parents=True)
        (shadow / "__init__.py").write_text('raise ImportError("not installed")\n')
        extra = {"PYTHONPATH": str(tmp_path / "shadow")}
    run, tools = _run_agent(
        tracengent_platform,
        config,
        "post:/v1/refunds",
        TRACENGENT_GOVERNED_HOSTS="127.0.0.1",
        **extra,
    )
    assert run.stderr.count("declarative configuration (OTEL_CONFIG_FILE) failed") == 1
    if broken == "package missing":
        assert "opentelemetry-configuration is not installed" in run.stderr
    assert "/v1/refunds -> ToolDeniedException" in run.stdout
    assert tools.received == []
    (event,) = _events(tracengent_platform)
    assert (event["name"], event["status"]) == (
        "POST 127.0.0.1:" + tools.url.rsplit(":", 1)[1] + "/v1/refunds",
        "failure",
    )


def test_tracengent_disabled_takes_the_files_tracengent_export_off(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """TRACENGENT_DISABLED=true: the file's `tracengent` exporter sends nothing."""
    config = _exporting_to(tmp_path, "tracengent")
    run, tools = _run_agent(tracengent_platform, config, "/a", TRACENGENT_DISABLED="true")
    assert _IGNORED_KWARGS not in run.stderr
    assert tools.paths() == ["/a"]
    assert traces_json(tracengent_platform) == {"traces": [], "standaloneEvents": []}


@pytest.mark.parametrize("export", ["tracengent's own", "the file's tracengent exporter"])
def test_a_client_in_the_process_shares_the_export_each_event_once(
    tracengent_platform: RunningPlatform, tmp_path: Path, export: str
) -> None:
    """A `TracengentClient` made under a file's SDK joins Tracengent's export there: every
    event once, whichever export it is."""
    exporter = "console" if export == "tracengent's own" else "tracengent"
    config = _exporting_to(tmp_path, exporter, processor="batch")
    run = run_instrumented("client_agent.py", [], _file_environment(tracengent_platform, config))
    assert run.returncode == 0, run.stderr
    (trace,) = traces_json(tracengent_platform)["traces"]
    events = cast(list[dict[str, object]], trace["events"])
    assert [event["name"] for event in events] == ["look for seats", "search", "rebook"]
    counters = tracengent_platform.store.counters()["demo-agent"]
    assert counters.events_received == 3
    assert counters.duplicates_ignored == 0


def test_a_file_that_disables_the_sdk_leaves_tracengent_recording_nothing(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """`disabled: true`, the file's `OTEL_SDK_DISABLED`: the agent runs, nothing is recorded."""
    config = _exporting_to(tmp_path, "console")
    Path(config).write_text(Path(config).read_text() + "disabled: true\n")
    run, tools = _run_agent(tracengent_platform, config, "/a")
    assert "/a -> 200" in run.stdout
    assert tools.paths() == ["/a"]
    assert traces_json(tracengent_platform) == {"traces": [], "standaloneEvents": []}


def _without_tracengent_settings(environment: dict[str, str]) -> dict[str, str]:
    """`environment` with no `TRACENGENT_*` setting of where or as whom to send."""
    for name in (
        "TRACENGENT_URL",
        "TRACENGENT_CLIENT_ID",
        "TRACENGENT_CLIENT_SECRET",
        "TRACENGENT_AGENT_ID",
        "TRACENGENT_ENVIRONMENT",
    ):
        del environment[name]
    return environment


def test_the_files_tracengent_settings_configure_export_and_governance(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """The README's settings under the file's `tracengent:` exporter key (the secret by
    `${AGENT_SECRET}`) configure Tracengent with no `TRACENGENT_*` credentials: events go as
    the file's agent with its tags, and a governed host's request is decided by the platform
    (denied there, recorded), asked with the file's credentials; nothing warns that Tracengent
    is not configured."""
    config = tmp_path / "otel-config.yaml"
    config.write_text(
        _readme_config("declarative-tracengent").replace(
            "http://localhost:8080", tracengent_platform.url
        ),
        encoding="utf-8",
    )
    environment = _without_tracengent_settings(
        _file_environment(
            tracengent_platform,
            str(config),
            AGENT_SECRET="ags_demo",
            TRACENGENT_GOVERNED_HOSTS="127.0.0.1",
        )
    )
    with serve(lambda _: json_reply({})) as tools:
        run = run_instrumented("httpx_agent.py", [tools.url, "post:/v1/refunds"], environment)
    assert run.returncode == 0, run.stderr
    assert "not configured" not in run.stderr
    assert "/v1/refunds -> ToolDeniedException" in run.stdout
    assert tools.received == []
    assert [d.status for d in tracengent_platform.store.decisions()] == ["denied"]
    (event,) = _events(tracengent_platform)
    assert event["agentId"] == "demo-agent"
    assert event["tags"] == ["staging", "declarative"]


def test_a_process_setting_under_the_files_tracengent_key_is_refused_by_name(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """`capture_payloads` holds for every pipeline, not one exporter: the file is refused with
    one warning naming the variable to set, and Tracengent runs from `TRACENGENT_*`."""
    config = _config_file(
        tmp_path,
        """
tracer_provider:
  processors:
    - simple:
        exporter:
          tracengent:
            capture_payloads: false
""",
    )
    run, _ = _run_agent(tracengent_platform, config, "/a")
    assert run.stderr.count("declarative configuration (OTEL_CONFIG_FILE) failed") == 1
    assert "set TRACENGENT_CAPTURE_PAYLOADS instead" in run.stderr
    (event,) = _events(tracengent_platform)
    assert event["tags"] == ["zero-code-test"]


def test_the_files_simple_processor_never_makes_the_agent_wait_for_the_platform(
    tracengent_platform: RunningPlatform, tmp_path: Path
) -> None:
    """`simple:` around the `tracengent` exporter would post each event as its span ends, on
    the agent's thread (through every retry when the platform is down): the first call's event
    would be stored before the agent's second call left. It is batched off the agent's thread
    instead, and both events are delivered at exit."""
    stored_before_second_call: list[int] = []

    def tool(received: Received) -> Reply:
        if received.path == "/b":
            stored_before_second_call.append(len(tracengent_platform.store.events()))
        return json_reply({})

    config = _exporting_to(tmp_path, "tracengent", processor="simple")
    with serve(tool) as tools:
        run = run_instrumented(
            "httpx_agent.py",
            [tools.url, "/a", "/b"],
            _file_environment(tracengent_platform, config),
        )
    assert run.returncode == 0, run.stderr
    assert stored_before_second_call == [0]
    assert len(_events(tracengent_platform)) == 2
