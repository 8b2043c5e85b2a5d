"""Hostile input: terminal injection in what is printed, names that try to become paths, a second writer.

(Malformed files and bad arguments exiting 2 are in tests/test_bad_input.py and tests/test_cli.py.)
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from studio_tui.core import events as ev
from studio_tui.core.reducer import fold
from studio_tui.core.store import Workspace, WorkspaceLock, read_log

DEADLINE_S = 30.0

# ── what an attacker puts in text ───────────────────────────────────────

MARKUP = "[bold]x[/]"
PAYLOAD = (
    f"{MARKUP} [link=http://e.vil]y[/link] "
    "\x1b[2J\x1b[31mred\x1b[0m "  # CSI: clear the screen, colours
    "\x1b]0;pwned-title\x07 "  # OSC 0: window title
    "\x1b]52;c;ZXZpbA==\x07 "  # OSC 52: write the clipboard
    "over\rwrite "  # bare carriage return
    "nul\x00z "  # NUL
    "c1\x9b2J"  # 8-bit CSI
)
GOAL_PAYLOAD = f"Fix {MARKUP} \x1b[2J\x1b]0;pwned-title\x07\x1b]52;c;ZXZpbA==\x07 over\rwrite"
"""A goal can hold anything but NUL (argv cannot)."""

AGENT = """\
import json, sys
P = {payload!r}
def emit(**message):
    sys.stdout.write(json.dumps(message) + "\\n")
    sys.stdout.flush()
handoff = json.loads(sys.stdin.readline())
emit(type="progress", step=1, total=1, description="step " + P, risky=True)
emit(type="log", message="log " + P, level="warning")
sys.stdout.write("plain " + P + "\\n")
sys.stdout.write("L" * (1 << 20) + "\\n")                     # a single 1 MB line
emit(type="log", message="M" * (1 << 20))                      # a 1 MB protocol line
sys.stderr.write("stderr " + P + "\\n")
sys.stdout.flush()
if handoff["attempt"] == 1:
    emit(type="failure", category="transient", message="fail " + P, details="details " + P)
else:
    emit(type="progress", step=1, total=1, done=True)
    emit(type="result", output={{"plan_id": "out " + P}})
"""


def cli_env() -> dict[str, str]:
    env = dict(os.environ, CI="true", PYTHONUNBUFFERED="1", NO_COLOR="1", COLUMNS="160")
    env.pop("FORCE_COLOR", None)
    return env


def studio(ws: Workspace, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[bytes]:
    """`studio-tui --workspace WS ARGS`, output kept as bytes (what a terminal would receive)."""
    return subprocess.run(
        [sys.executable, "-m", "studio_tui", "--workspace", str(ws.root), *args],
        cwd=ws.project_root,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
    )


def command_workspace(project: Path, script: str, *, extra_config: dict | None = None) -> Workspace:
    root = project / ".studio"
    root.mkdir(parents=True)
    (project / "agent.py").write_text(script)
    command = {"kind": "command", "command": [sys.executable, "agent.py"], "timeout": 30}
    config = {
        "recovery": {"max_retries": 1, "max_replans": 0, "backoff": {"initial": 0}},
        "checkpoints": {"every_steps": 1},
        "agents": {role: dict(command) for role in ("planner", "builder", "architect")},
        **(extra_config or {}),
    }
    (root / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return Workspace(root)


ESC = b"\x1b"
BARE_CR = re.compile(rb"\r(?!\n)")
C1 = re.compile("[\x80-\x9f]")


def assert_terminal_safe(raw: bytes, what: str, *, c1: bool = True) -> str:
    """No byte a terminal would act on: ESC, BEL, NUL, a bare CR, or a C1 control; returns the text."""
    esc = raw.find(ESC)
    assert esc < 0, f"{what}: ESC at byte {esc}: {raw[max(0, esc - 80) : esc + 40]!r}"
    assert b"\x07" not in raw, f"{what}: BEL"
    assert b"\x00" not in raw, f"{what}: NUL"
    assert not BARE_CR.search(raw), f"{what}: bare CR"
    text = raw.decode("utf-8")
    if c1:
        assert not C1.search(text), f"{what}: C1 control"
    return text


# ── terminal injection through headless output ──────────────────────────


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    project = tmp_path_factory.mktemp("hostile") / "project"
    ws = command_workspace(project, AGENT.format(payload=PAYLOAD))
    build = studio(ws, "build", GOAL_PAYLOAD, "--headless", "--on-escalation", "abort")
    follow = {
        "status": studio(ws, "status"),
        "status_json": studio(ws, "status", "--json"),
        "checkpoints": studio(ws, "checkpoints"),
        "view": studio(ws),
    }
    return ws, build, follow


def test_headless_build_output_has_no_control_sequences(hostile_run):
    ws, build, _ = hostile_run
    assert build.returncode == 0, build.stderr.decode(errors="replace")
    out = assert_terminal_safe(build.stdout, "build stdout")
    assert_terminal_safe(build.stderr, "build stderr")
    # the run really carried the payload: it is in the log, raw
    events = read_log(ws.events_path(ws.latest())).events
    assert any(isinstance(e, ev.AgentLog) and "\x1b]52;c;" in e.message for e in events)
    assert "\x1b[2J" in fold(events).goal
    # every place it shows up, markup is printed as written, controls made visible
    for where in ("step ", "log ", "plain ", "fail ", "completed plan_id=out "):
        assert f"{where}{MARKUP} [link=http://e.vil]y[/link]" in out, where
    assert f"Fix {MARKUP} ^[[2J^[]0;pwned-title^G^[]52;c;ZXZpbA==^G over" in out
    assert "nul^@z" in out and "c1\\x9b2J" in out


def test_headless_output_cuts_a_one_megabyte_line(hostile_run):
    _, build, _ = hostile_run
    lines = build.stdout.decode("utf-8").splitlines()
    assert max(len(line) for line in lines) < 10_000
    assert len(build.stdout) < 200_000
    long_line = next(line for line in lines if "LLLL" in line)
    assert f"[truncated, {(1 << 20) + 1} bytes]" in long_line
    assert any("longer than" in line and "MMMM" in line for line in lines)


@pytest.mark.parametrize("command", ["status", "status_json", "checkpoints", "view"])
def test_reading_commands_print_hostile_state_safely(hostile_run, command):
    _, _, follow = hostile_run
    done = follow[command]
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    out = assert_terminal_safe(done.stdout, command, c1=command != "status_json")
    assert_terminal_safe(done.stderr, command)
    if command != "checkpoints":
        assert MARKUP in out


def test_status_json_escapes_c1_controls(hostile_run):
    _, _, follow = hostile_run
    assert_terminal_safe(follow["status_json"].stdout, "status --json")


# ── echoes of what the person typed, and error messages ─────────────────


def _finished(project: Path) -> Workspace:
    ws = command_workspace(project, 'import json, sys\nsys.stdin.readline()\nprint(json.dumps({"type": "result", "output": {}}))\n')
    done = studio(ws, "build", "Fix it", "--headless")
    assert done.returncode == 0, done.stderr
    return ws


@pytest.fixture
def finished_ws(tmp_path):
    """A workspace with one finished build (a command agent that just answers with a result)."""
    return _finished(tmp_path / "project")


@pytest.fixture(scope="module")
def shared_ws(tmp_path_factory):
    """The same, shared by tests that only add checkpoints or handoffs to it."""
    return _finished(tmp_path_factory.mktemp("shared") / "project")


def test_checkpoint_name_echo_is_safe(shared_ws):
    done = studio(shared_ws, "checkpoint", "[red]n\x1b]0;pwned-title\x07\x1b[2J")
    assert done.returncode in (0, 2)
    assert_terminal_safe(done.stdout, "checkpoint stdout")
    assert_terminal_safe(done.stderr, "checkpoint stderr")


def test_handoff_echo_is_safe(shared_ws):
    done = studio(shared_ws, "handoff", "\x1b[2Jplanner", "builder\x1b]0;pwned-title\x07", "{}")
    assert done.returncode in (0, 2)
    assert_terminal_safe(done.stdout, "handoff stdout")
    assert_terminal_safe(done.stderr, "handoff stderr")


def test_error_message_naming_a_hostile_yaml_key_is_safe(tmp_path):
    ws = command_workspace(tmp_path / "project", "")
    ws.config_path.write_text(ws.config_path.read_text() + '"\\e[2J\\e]0;pwned-title\\a": 1\n')
    done = studio(ws, "build", "Fix it", "--headless")
    assert done.returncode == 2
    message = assert_terminal_safe(done.stderr, "stderr")
    assert "config.yaml" in message


def test_error_messages_quote_hostile_values_and_ids_safely(tmp_path):
    ws = command_workspace(tmp_path / "project", "")
    results = [studio(ws, "resume", "cp_1\x1b]0;pwned-title\x07"), studio(ws, "status", "orch_\x1b[2J")]
    ws.config_path.write_text('recovery: {max_retries: "\\e[2J\\e]52;c;ZXZpbA==\\a"}\n')
    results.append(studio(ws, "build", "Fix it", "--headless"))
    for done in results:
        assert done.returncode == 2
        message = assert_terminal_safe(done.stderr, "stderr")
        assert "\\x1b" in message  # shown, quoted


# ── names that would become paths ───────────────────────────────────────


def tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("name", ["../../x", "../../../../tmp/evil", "/tmp/evil", "a\\..\\..\\b", "..", ".", "~", "%2e%2e%2fx", "cp_1"])
def test_checkpoint_names_never_write_outside_the_workspace(shared_ws, name):
    finished_ws = shared_ws
    outside = finished_ws.project_root.parent
    before = tree(outside)
    done = studio(finished_ws, "checkpoint", name)
    assert done.returncode in (0, 2), done.stderr
    assert b"Traceback" not in done.stderr
    created = tree(outside) - before
    assert all(path.startswith("project/.studio/orchestration/") for path in created), created
    if done.returncode == 0:
        # saved under a validated cp_<epoch> id; the name is only a label
        cp_files = [p for p in created if p.endswith(".yaml")]
        assert len(cp_files) == 1 and re.search(r"/checkpoints/cp_\d+\.yaml$", cp_files[0])
        record = finished_ws.load_checkpoint(outside / cp_files[0])
        assert record.meta.name == name


def test_a_checkpoint_file_claiming_another_orchestration_is_refused(finished_ws):
    orch_id = finished_ws.latest()
    cp_id, path = finished_ws.checkpoint_paths()[-1]
    data = yaml.safe_load(path.read_text())
    data["checkpoint"]["orch_id"] = "../../../evil"
    data["state"]["id"] = "../../../evil"
    path.write_text(yaml.safe_dump(data))
    before = tree(finished_ws.project_root.parent)
    done = studio(finished_ws, "resume", cp_id, "--headless")
    assert done.returncode == 2
    assert b"Traceback" not in done.stderr and cp_id.encode() in done.stderr
    assert tree(finished_ws.project_root.parent) == before
    assert finished_ws.orchestrations() == [orch_id]


def test_a_backlog_task_id_that_climbs_out_is_refused(tmp_path):
    ws = command_workspace(tmp_path / "project", "")
    ws.backlog_path.write_text(
        textwrap.dedent("""\
        epics:
          - id: E1
            title: e
            features:
              - id: F1
                title: f
                tasks:
                  - {id: "../../../evil", title: climb out}
                  - {id: T2, title: fine}
        """)
    )
    before = tree(tmp_path)
    done = studio(ws, "run-backlog", "--headless")
    assert done.returncode == 2
    message = " ".join(done.stderr.decode().split())
    assert "backlog.yaml" in message and "line 8" in message and "Traceback" not in message
    assert tree(tmp_path) == before


def test_task_ids_from_a_handoff_or_an_agent_result_never_become_paths(tmp_path):
    script = textwrap.dedent("""\
        import json, sys
        json.loads(sys.stdin.readline())
        print(json.dumps({"type": "result", "output": {"task_id": "../../../../evil", "plan_path": "/etc/passwd"}}))
        """)
    ws = command_workspace(tmp_path / "project", script)
    before = tree(tmp_path)
    done = studio(ws, "build", "Fix it", "--headless")
    assert b"Traceback" not in done.stdout + done.stderr
    assert done.returncode in (1, 2)
    text = " ".join(done.stdout.decode().split())
    assert "invalid task id" in text
    # a hand-given handoff naming a climbing task id: the re-run refuses it as well
    done = studio(ws, "handoff", "planner", "builder", json.dumps({"task_id": "../../../../evil"}))
    assert done.returncode == 0, done.stderr
    done = studio(ws, "agent-start", "builder", "--headless")
    assert done.returncode in (1, 2) and b"Traceback" not in done.stderr
    created = tree(tmp_path) - before
    assert all(path.startswith("project/") for path in created), created
    assert not any("evil" in path for path in created)


# ── one writer at a time ────────────────────────────────────────────────


def wait_for(predicate, what: str, deadline_s: float = DEADLINE_S):
    deadline = time.monotonic() + deadline_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def slow_build(tmp_path, doubles):
    """A build that holds the lock for a minute, started over a stale lock file left by a dead process."""
    scenario = doubles.builder_scenario({1: {"duration": 0.01}, 2: {"duration": 60}})
    ws = doubles.write_workspace(tmp_path / "project", scenario, config={"checkpoints": {"every_steps": 1}})
    stale = dead_pid()
    (ws.root / "lock").write_text(json.dumps({"pid": stale, "command": "studio-tui build (crashed)", "started": "2020-01-01T00:00:00"}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio_tui", "build", "Fix the flaky thing", "--headless", "--speed", "1"],
        cwd=ws.project_root,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield ws, proc, stale
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_stale_lock_is_taken_over_and_other_writers_are_refused_naming_the_holder(slow_build, doubles):
    ws, proc, stale = slow_build
    lock = WorkspaceLock(ws.root / "lock")
    # the stale lock (dead pid, no flock) was taken over: the file now names the running build
    wait_for(lambda: lock.holder().get("pid") == proc.pid, "the build to take the lock")
    orch_id = wait_for(ws.latest, "the orchestration to start")
    wait_for(lambda: any(isinstance(e, ev.AgentStep) and e.step == 2 for e in read_log(ws.events_path(orch_id)).events), "step 2")
    cp_id = ws.checkpoint_paths()[-1][0]  # the newest: a resume that continues (an older one asks to rewind first)
    holder_before = (ws.root / "lock").read_bytes()
    writers = {
        "build": ("build", "Fix something else", "--headless", "--speed", "0"),
        "resume": ("resume", cp_id, "--yes", "--headless", "--speed", "0"),  # an older checkpoint: a rewind, agreed to
        "agent-start": ("agent-start", "builder", "--headless", "--speed", "0"),
        "handoff": ("handoff", "planner", "builder", "{}"),
        "run-backlog": ("run-backlog", "--headless", "--speed", "0"),
    }
    readers = {
        "status": ("status",),
        "status_json": ("status", "--json"),
        "checkpoints": ("checkpoints", "--json"),
        "budget": ("budget",),
        "view": (),
    }
    names = [*writers, *readers]
    results = dict(zip(names, doubles.run_cli_many([*writers.values(), *readers.values()], cwd=ws.project_root), strict=False))
    for name in writers:
        done = results[name]
        if name == "run-backlog":  # no backlog here: refused for that before the lock, which is fine too
            assert done.returncode == 2
            continue
        assert done.returncode == 2, (name, done.stdout, done.stderr)
        message = " ".join(done.stderr.split())
        assert f"pid {proc.pid}" in message and "studio-tui build" in message, (name, message)
        assert str(stale) not in message
    for name in readers:
        assert results[name].returncode == 0, (name, results[name].stderr)
    # watchers did not take (or rewrite) the lock, and nothing else was written to the log
    assert (ws.root / "lock").read_bytes() == holder_before
    events = read_log(ws.events_path(orch_id)).events
    assert not [e for e in events if isinstance(e, (ev.HandoffRecorded, ev.Resumed))]
    assert ws.orchestrations() == [orch_id]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=DEADLINE_S) == 130
    assert (ws.root / "lock").read_text() == ""  # released: nobody named


def test_checkpoint_request_while_another_process_runs_is_saved_by_the_writer(slow_build):
    ws, proc, _ = slow_build
    orch_id = wait_for(ws.latest, "the orchestration to start")
    wait_for(lambda: ws.checkpoint_paths(), "the first checkpoint")
    done = studio(ws, "checkpoint", "asked from outside")
    assert done.returncode == 0, done.stderr
    assert f"pid {proc.pid}".encode() in done.stdout
    assert list((ws.orch_dir(orch_id) / "requests").glob("checkpoint-*.json"))
    # the writer takes requests when a step starts; this one is in a minute-long step, so stop it
    # and resume: the resumed writer saves the request, and nobody else wrote a checkpoint
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=DEADLINE_S) == 130
    interrupted = [c for c in fold(read_log(ws.events_path(orch_id)).events).checkpoints if c.name == "interrupted"]
    done = studio(ws, "resume", interrupted[0].id, "--headless", "--speed", "0")
    assert done.returncode == 0, done.stderr
    state = fold(read_log(ws.events_path(orch_id)).events)
    asked = [c for c in state.checkpoints if c.name == "asked from outside"]
    assert len(asked) == 1 and asked[0].reason == "on_demand"
    assert ws.find_checkpoint(asked[0].id).meta.name == "asked from outside"
    assert not list((ws.orch_dir(orch_id) / "requests").glob("checkpoint-*.json"))


# ── the dashboard ───────────────────────────────────────────────────────


async def test_dashboard_shows_hostile_text_literally(hostile_run):
    """The same hostile run, opened in the dashboard: what the screen shows has markup as text, no controls."""
    import asyncio

    from studio_tui.ui.app import Launch, StudioApp

    ws, _, _ = hostile_run
    app = StudioApp(Launch(ws, "view", speed=0))
    async with app.run_test(size=(200, 60)) as pilot:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE_S
        while not (app.feed.state.id and app.feed.state.status == "completed"):
            assert loop.time() < deadline, "the dashboard did not load the run"
            await pilot.pause()
        await pilot.pause()
        screen = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
    for bad in ("\x1b", "\x07", "\x00", "\r"):
        assert bad not in screen, repr(bad)
    assert not C1.search(screen)
    assert MARKUP in screen
    assert "^[[2J" in screen or "^[]0;pwned-title" in screen
