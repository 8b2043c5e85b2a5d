"""Commands load only what they use: reading a log never builds the orchestrator, the ACP client or
the dashboard (a guard on start-up cost; checked through `sys.modules`, no timing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from studio_tui.core import events as ev
from studio_tui.core.store import EventLogWriter

CLI_TIMEOUT = 120.0


def cli_env() -> dict[str, str]:
    return {**os.environ, "CI": "true", "NO_COLOR": "1"}


PROBE = """
import json, runpy, sys
sys.argv = ["studio-tui", *json.loads(sys.argv[1])]
try:
    runpy.run_module("studio_tui", run_name="__main__")
except SystemExit as exc:
    code = exc.code
print("\\nLOADED=" + json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("acp", "textual", "dask", "textual_serve") or m.startswith(("studio_tui.core.orchestrator", "studio_tui.core.agents", "studio_tui.core.config", "studio_tui.core.parallel", "studio_tui.ui")))))
"""


def loaded_by(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(args))],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    marker = done.stdout.rfind("LOADED=")
    assert marker >= 0, done.stderr
    return done, json.loads(done.stdout[marker + len("LOADED=") :])


def test_replay_of_a_log_to_json_loads_nothing_of_the_run_machinery(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    writer = EventLogWriter(log)
    writer.append(ev.OrchestrationStarted(seq=1, ts=1.0, orch_id="orch_1", goal="g", mode="implicit", workflow="build_only"))
    writer.append(ev.AgentLog(seq=2, ts=2.0, orch_id="orch_1", agent="builder", message="hello"))
    writer.close()
    done, loaded = loaded_by("replay", str(log), "--to", "1", "--json", cwd=tmp_path)
    assert '"reached_seq": 1' in done.stdout, done.stdout + done.stderr
    assert loaded == [], f"replay --json imported {loaded}"


def test_version_and_help_load_nothing_heavy(tmp_path: Path) -> None:
    for args in (("--version",), ("--help",), ("replay", "--help")):
        _, loaded = loaded_by(*args, cwd=tmp_path)
        assert loaded == [], f"{' '.join(args)} imported {loaded}"


def test_the_probe_sees_heavy_imports_when_a_command_needs_them(tmp_path: Path) -> None:
    """The check can fail: `init` builds the config models."""
    done, loaded = loaded_by("init", "--agents", "scripted", cwd=tmp_path)
    assert (tmp_path / ".studio" / "config.yaml").is_file(), done.stdout + done.stderr
    assert "studio_tui.core.config" in loaded
