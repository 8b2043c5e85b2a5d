"""The `studio-tui` command line, run as a subprocess (CI=true, stdin from /dev/null)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time

import pytest
import yaml

from studio_tui import __version__
from studio_tui.core import events as ev
from studio_tui.core.decider import PolicyDecider
from studio_tui.core.reducer import fold
from studio_tui.core.store import Workspace, WorkspaceLock, read_log


def latest_events(ws: Workspace) -> list[ev.Event]:
    read = read_log(ws.events_path(ws.latest()))
    assert read.bad_lines == []
    return read.events


def assert_clean_failure(done, *needles):
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    for needle in needles:
        assert needle in done.stderr, done.stderr


def prepare(doubles, project, decider="retry"):
    """A small workspace (the mini scenario) with one run done in this process (real clock, so it is the latest)."""
    ws = doubles.write_workspace(project, doubles.mini_scenario(), config={"checkpoints": {"every_steps": 2}})
    run = asyncio.run(doubles.run_orchestration(ws, decider=PolicyDecider(decider), clock=time.time))
    return ws, run


def files(project, *, lock=True) -> dict[str, tuple[int, int]]:
    """Files under the project with size and mtime (without `.studio/lock` when lock=False)."""
    out = {str(p.relative_to(project)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(project.rglob("*")) if p.is_file()}
    if not lock:
        out.pop(".studio/lock", None)
    return out


# ── every independent command, run side by side once per module ────────
#
# Starting an interpreter is most of a CLI test's cost, so the commands that do not depend on one another
# run together (each in its own workspace, via --workspace); the tests below then check one result each.

READ_COMMANDS = {
    "status_json": ("status", "--json"),
    "budget_json": ("budget", "--json"),
    "checkpoints_json": ("checkpoints", "--json"),
    "resume_unknown": ("resume", "cp_999999999", "--speed", "0"),
}

BAD_HANDOFF = '{"x":'


class Batch:
    def __init__(self, base):
        self.base = base
        self.spaces: dict[str, Workspace] = {}
        self.runs: dict = {}
        self.commands: dict[str, tuple[str, ...]] = {}
        self.results: dict[str, subprocess.CompletedProcess[str]] = {}
        self.before: dict[str, dict] = {}

    def add(self, name, ws, *args):
        self.spaces[name] = ws
        self.commands[name] = ("--workspace", str(ws.root), *args) if ws is not None else args

    def run(self, doubles, names=None):
        names = list(names or [n for n in self.commands if n not in self.results])
        for name, done in zip(names, doubles.run_cli_many([self.commands[n] for n in names], cwd=self.base), strict=False):
            self.results[name] = done


@pytest.fixture(scope="module")
def batch(tmp_path_factory, doubles, _subprocess_bytecode_cache):
    base = tmp_path_factory.mktemp("cli")
    b = Batch(base)
    example = lambda name: doubles.copy_example(base / name)  # noqa: E731

    b.add("version", None, "--version")
    b.add("help", None, "--help")
    b.add("demo", None, "demo", "--speed", "0", "--into", str(base / "demo"))
    b.add("build", example("build"), "build", "Fix the login typo", "--headless", "--speed", "0", "--on-escalation", "retry")
    mini = lambda name: doubles.write_workspace(base / name, doubles.mini_scenario())  # noqa: E731
    b.add("abort_explicit", mini("abort_explicit"), "build", "Add a mini feature", "--headless", "--speed", "0", "--on-escalation", "abort")
    b.add("orchestrate_no_yes", mini("orchestrate_no_yes"), "orchestrate", "build", "Add a mini feature", "--speed", "0")
    b.add(
        "orchestrate_yes",
        mini("orchestrate_yes"),
        "orchestrate",
        "build",
        "Add a mini feature",
        "--yes",
        "--speed",
        "0",
        "--on-escalation",
        "retry",
    )
    b.add("run_backlog", example("run_backlog"), "run-backlog", "--headless", "--speed", "0")
    b.add("lock_held", example("lock_held"), "build", "Fix the login typo", "--headless", "--speed", "0")

    ws, b.runs["resume_real"] = prepare(doubles, base / "resume_real", decider="abort")
    b.add(
        "resume_real",
        ws,
        "resume",
        b.runs["resume_real"].state.checkpoints[-1].id,
        "--headless",
        "--speed",
        "0",
        "--on-escalation",
        "retry",
    )
    ws, b.runs["agent_start"] = prepare(doubles, base / "agent_start")
    b.add("agent_start", ws, "agent-start", "builder", "--headless", "--speed", "0")
    ws, b.runs["handoff"] = prepare(doubles, base / "handoff")
    b.add("handoff", ws, "handoff", "planner", "builder", '{"x":1}')
    ws, b.runs["handoff_bad"] = prepare(doubles, base / "handoff_bad")
    b.before["handoff_bad"] = files(ws.project_root)
    b.add("handoff_bad", ws, "handoff", "planner", "builder", BAD_HANDOFF)
    for name in ("orchestrate_no_yes", "lock_held"):
        b.before[name] = files(b.spaces[name].project_root)

    lock = WorkspaceLock(b.spaces["lock_held"].root / "lock").acquire()
    try:
        b.run(doubles)
    finally:
        lock.release()
    # second phase: what needs the first one done
    for name, args in READ_COMMANDS.items():
        b.add(name, b.spaces["build"], *args)
    b.add("handoff_status", b.spaces["handoff"], "status", "--json")
    b.run(doubles)
    return b


# ── basics ──────────────────────────────────────────────────────────────


def test_version(batch):
    done = batch.results["version"]
    assert done.returncode == 0
    assert done.stdout.strip() == f"studio-tui {__version__}"


def test_help_lists_the_commands(batch):
    done = batch.results["help"]
    assert done.returncode == 0
    for command in (
        "demo",
        "build",
        "orchestrate",
        "status",
        "checkpoint",
        "checkpoints",
        "resume",
        "budget",
        "handoff",
        "agent-start",
        "run-backlog",
    ):
        assert re.search(rf"\b{re.escape(command)}\b", done.stdout), command


def test_demo_completes(batch):
    done = batch.results["demo"]
    assert done.returncode == 0, done.stderr
    assert "COMPLETED" in done.stdout
    ws = Workspace(batch.base / "demo" / ".studio")
    assert str(ws.root) in done.stdout
    events = latest_events(ws)
    assert events[-1].type == "orchestration_finished" and events[-1].status == "completed"
    assert fold(events).to_yaml() == ws.state_path(ws.latest()).read_text()


# ── one headless build, then the read-only commands on it ──────────────


def test_build_headless_completes(batch):
    done, ws = batch.results["build"], batch.spaces["build"]
    assert done.returncode == 0, done.stderr
    assert "COMPLETED" in done.stdout
    assert "Traceback" not in done.stderr
    events = latest_events(ws)
    assert fold(events).to_yaml() == ws.state_path(ws.latest()).read_text()
    routed = [e for e in events if isinstance(e, ev.RoutingDecided)]
    assert [r.workflow for r in routed] == ["build_only"]
    # the headless printer shows the routing and a line per checkpoint
    assert "build_only" in done.stdout
    for e in events:
        if isinstance(e, ev.CheckpointSaved):
            assert e.checkpoint_id in done.stdout


def test_status_json_has_the_seed_keys(batch):
    done, ws = batch.results["status_json"], batch.spaces["build"]
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout)["orchestration_state"]
    for key in ("id", "mode", "status", "goal", "routing", "agent_states", "checkpoints", "failures"):
        assert key in state, key
    assert state["id"] == ws.latest()
    assert (state["mode"], state["status"], state["goal"]) == ("implicit", "completed", "Fix the login typo")
    routing = state["routing"]
    assert routing["workflow"] == "build_only"
    assert routing["confidence"] == pytest.approx(0.9)
    assert [e["agent"] for e in routing["agent_sequence"]] == ["planner", "builder"]  # the replan added a planner
    assert all({"agent", "status"} <= set(e) for e in routing["agent_sequence"])
    assert {a["agent"]: a["status"] for a in state["agent_states"]} == {"planner": "completed", "builder": "completed"}
    assert [c["id"] for c in state["checkpoints"]] == [e.checkpoint_id for e in latest_events(ws) if isinstance(e, ev.CheckpointSaved)]
    assert all({"id", "name", "after_agent"} <= set(c) for c in state["checkpoints"])
    assert [f["category"] for f in state["failures"]] == ["transient", "design_flaw", "blocker"]
    # the JSON is the state folded from the log
    assert state == fold(latest_events(ws)).to_dict()


def test_budget_json(batch):
    done, ws = batch.results["budget_json"], batch.spaces["build"]
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    state = fold(latest_events(ws))
    assert data["orch_id"] == ws.latest()
    assert [p["pool"] for p in data["pools"]] == ["reserved", "learnings", "backlog", "plans", "context7", "working"]
    for p in data["pools"]:
        assert (p["used"], p["soft"]) == (state.budget.pools[p["pool"]].used, state.budget.pools[p["pool"]].soft)
        assert p["status"] == state.budget.level(p["used"], p["soft"])
    total = data["total"]
    assert total["used"] == sum(p["used"] for p in data["pools"])
    assert total["soft"] == sum(p["soft"] for p in data["pools"]) == 150000
    assert total["percent"] == round(100 * total["used"] / total["soft"])
    assert total["status"] == state.budget.total_level
    assert [o["step"] for o in data["optimizations"]] == [o.step for o in state.budget.optimizations]


def test_checkpoints_json(batch):
    done, ws = batch.results["checkpoints_json"], batch.spaces["build"]
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    ids = [c["id"] for c in listed]
    assert len(ids) == len(set(ids)) >= 3
    assert set(ids) == {cp_id for cp_id, _ in ws.checkpoint_paths()}
    assert [c["ts"] for c in listed] == sorted((c["ts"] for c in listed), reverse=True)  # newest first
    for c in listed:
        assert c["orch_id"] == ws.latest()
        assert os.path.exists(c["path"])


def test_resume_unknown_checkpoint_lists_the_known_ones(batch):
    done, ws = batch.results["resume_unknown"], batch.spaces["build"]
    assert_clean_failure(done, "cp_999999999")
    known = [cp_id for cp_id, _ in ws.checkpoint_paths()]
    assert known and known[-1] in done.stderr


# ── commands that change a workspace (each its own) ───────────────────


def test_resume_a_real_checkpoint(batch):
    done, ws, run = batch.results["resume_real"], batch.spaces["resume_real"], batch.runs["resume_real"]
    assert run.state.status == "aborted"
    cp_id = run.state.checkpoints[-1].id
    assert done.returncode == 0, done.stderr
    assert "COMPLETED" in done.stdout
    events = latest_events(ws)
    state = fold(events)
    assert state.status == "completed" and state.resumed_from == [cp_id]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert state.to_yaml() == ws.state_path(run.state.id).read_text()


def test_handoff_is_recorded_and_shown_by_status(batch):
    done, run = batch.results["handoff"], batch.runs["handoff"]
    assert done.returncode == 0, done.stderr
    shown = batch.results["handoff_status"]
    assert shown.returncode == 0, shown.stderr
    state = json.loads(shown.stdout)["orchestration_state"]
    last = state["handoffs"][-1]
    assert (last["from"], last["to"], last["context"]) == ("planner", "builder", {"x": 1})
    assert last["tokens"] > 0
    assert len(state["handoffs"]) == len(run.state.handoffs) + 1
    ws = batch.spaces["handoff"]
    assert fold(latest_events(ws)).to_yaml() == ws.state_path(run.state.id).read_text()


def test_handoff_with_bad_json_exits_2(batch):
    done = batch.results["handoff_bad"]
    assert_clean_failure(done, "JSON", "column")
    assert len(done.stderr.strip().splitlines()) == 1
    assert files(batch.spaces["handoff_bad"].project_root) == batch.before["handoff_bad"]


def test_agent_start_reinvokes_the_builder(batch):
    done, ws, run = batch.results["agent_start"], batch.spaces["agent_start"], batch.runs["agent_start"]
    assert done.returncode == 0, done.stderr
    attempts = [e.attempt for e in run.of(ev.AgentStarted) if e.agent == "builder"]
    events = latest_events(ws)
    new = [e for e in events if e.seq > run.state.seq]
    restarted = [e for e in new if isinstance(e, ev.AgentStarted)]
    assert [(e.agent, e.attempt) for e in restarted] == [("builder", max(attempts) + 1)]
    assert isinstance(new[0], ev.AgentStatus) and (new[0].agent, new[0].status) == ("builder", "pending")
    # the builder had finished every step: none is run again
    assert not [e for e in new if isinstance(e, ev.AgentStep) and e.status == "started"]
    assert fold(events).status == "completed"


def test_run_backlog(batch):
    done, ws = batch.results["run_backlog"], batch.spaces["run_backlog"]
    assert done.returncode == 0, done.stderr
    state = fold(latest_events(ws)).to_dict()
    assert state["routing"]["workflow"] == "multi_task"
    assert [e["agent"] for e in state["routing"]["agent_sequence"]] == ["builder", "builder", "builder"]
    assert [a["agent"] for a in state["agent_states"]] == ["builder:T1", "builder:T2", "builder:T3"]
    assert [(f["agent"], f["step"], f["category"], f["action"]) for f in state["failures"]] == [("builder:T2", 2, "code_error", "retry")]
    assert state["backlog_updates"] == {"T1": "completed", "T2": "completed", "T3": "completed"}
    backlog = yaml.safe_load(ws.backlog_path.read_text())
    statuses = {t["id"]: t["status"] for e in backlog["epics"] for f in e["features"] for t in f["tasks"]}
    assert statuses == {"T1": "completed", "T2": "completed", "T3": "completed"}


def test_escalation_abort_exits_1(batch):
    done, ws = batch.results["abort_explicit"], batch.spaces["abort_explicit"]
    assert done.returncode == 1, done.stderr
    assert "ABORTED" in done.stdout
    state = fold(latest_events(ws))
    assert state.status == "aborted"
    answered = [d for d in state.decisions if d.kind == "escalation"]
    assert [(d.answer, d.by) for d in answered] == [("abort", "policy")]
    assert ws.state_path(state.id).read_text() == state.to_yaml()


def test_orchestrate_without_a_terminal_needs_yes(batch):
    done, ws = batch.results["orchestrate_no_yes"], batch.spaces["orchestrate_no_yes"]
    assert_clean_failure(done, "--yes")
    assert len(done.stderr.strip().splitlines()) == 1
    assert not ws.orchestration_dir.exists()
    assert files(ws.project_root) == batch.before["orchestrate_no_yes"]


def test_orchestrate_with_yes_proceeds(batch):
    done, ws = batch.results["orchestrate_yes"], batch.spaces["orchestrate_yes"]
    assert done.returncode == 0, done.stderr
    state = fold(latest_events(ws))
    assert state.mode == "explicit" and state.status == "completed"
    routing = [d for d in state.decisions if d.kind == "routing"]
    assert len(routing) == 1 and routing[0].answer == "proceed"
    assert routing[0].details["workflow"] == "plan_then_build"


# ── cheap error paths and plain output, through `cli.main` in this process ─
#
# The same code as the subprocess minus interpreter start-up (stdout/stderr captured, CI=true).


@pytest.fixture
def main_run(capsys, monkeypatch):
    from studio_tui.cli import main

    monkeypatch.setenv("CI", "true")

    def run(*args):
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # never a terminal, even under `pytest -s`
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse
            code = exc.code
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return run


def test_unknown_command_is_a_usage_error(main_run):
    assert_clean_failure(main_run("frobnicate"), "frobnicate")


def test_status_plain_is_the_seed_structure(batch, main_run):
    ws = batch.spaces["build"]
    done = main_run("--workspace", str(ws.root), "status")
    assert done.returncode == 0, done.stderr
    state = yaml.safe_load(done.stdout)["orchestration_state"]
    assert list(state)[:8] == ["id", "mode", "status", "goal", "routing", "agent_states", "checkpoints", "failures"]
    assert state["id"] == ws.latest()
    assert state["routing"]["workflow"] == "build_only"
    assert [a["agent"] for a in state["agent_states"]] == ["planner", "builder"]


def test_budget_plain_table(batch, main_run):
    done = main_run("--workspace", str(batch.spaces["build"].root), "budget")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert re.match(r"\s*Pool\s+Used\s+Soft\s+Status", lines[0])
    assert any(re.match(r"\s*TOTAL\s+\d+\s+150000\s+(OK|WARNING|CRITICAL) \(\d+%\)", line) for line in lines)


@pytest.mark.parametrize("payload", ["[1, 2]", "not json"])
def test_handoff_with_other_bad_json_exits_2(main_run, tmp_path, doubles, payload):
    ws, _ = prepare(doubles, tmp_path / "project")
    before = files(ws.project_root)
    assert_clean_failure(main_run("--workspace", str(ws.root), "handoff", "planner", "builder", payload), "JSON")
    assert files(ws.project_root) == before


def test_agent_start_unknown_agent_exits_2(main_run, tmp_path, doubles):
    ws, run = prepare(doubles, tmp_path / "project")
    done = main_run("--workspace", str(ws.root), "agent-start", "wizard", "--speed", "0")
    assert_clean_failure(done, "wizard", "builder")
    assert len(latest_events(ws)) == run.state.seq  # nothing appended


def test_run_backlog_with_nothing_pending_exits_2(main_run, tmp_path, doubles):
    ws = doubles.copy_example(tmp_path / "project")
    ws.backlog_path.write_text(ws.backlog_path.read_text().replace("status: pending", "status: completed"))
    before = files(ws.project_root)
    assert_clean_failure(main_run("--workspace", str(ws.root), "run-backlog", "--headless", "--speed", "0"), "backlog")
    assert not ws.orchestration_dir.exists()
    # (the workspace lock is taken before the backlog is read, so only the lock file may have appeared)
    assert files(ws.project_root, lock=False) == before


def test_empty_goal_exits_2(main_run, tmp_path, doubles):
    ws = doubles.copy_example(tmp_path / "project")
    before = files(ws.project_root)
    assert_clean_failure(main_run("--workspace", str(ws.root), "build", "   ", "--headless"), "GOAL")
    assert files(ws.project_root) == before


def test_status_without_an_orchestration_exits_2(main_run, tmp_path, doubles):
    ws = doubles.copy_example(tmp_path / "project")
    assert_clean_failure(main_run("--workspace", str(ws.root), "status", "--json"), "no orchestration")


def test_escalation_default_without_a_terminal_is_abort(main_run, tmp_path, doubles):
    ws = doubles.write_workspace(tmp_path / "project", doubles.mini_scenario())
    done = main_run("--workspace", str(ws.root), "build", "Add a mini feature", "--headless", "--speed", "0")
    assert done.returncode == 1, done.stderr
    state = fold(latest_events(ws))
    assert state.status == "aborted"
    assert [(d.answer, d.by) for d in state.decisions if d.kind == "escalation"] == [("abort", "policy")]


def test_commands_outside_a_workspace_exit_2(main_run, tmp_path):
    done = main_run("--workspace", str(tmp_path / "nowhere" / ".studio"), "resume", "cp_1")
    assert_clean_failure(done, "no workspace here")
    assert not (tmp_path / "nowhere").exists()


# ── the lock, and Ctrl-C ────────────────────────────────────────────────


def test_second_build_while_the_lock_is_held_exits_2_naming_the_pid(batch):
    ws = batch.spaces["lock_held"]
    assert_clean_failure(batch.results["lock_held"], f"pid {os.getpid()}")
    assert not ws.orchestration_dir.exists()
    # the refused build wrote nothing (the lock file is this test's own)
    assert files(ws.project_root, lock=False) == batch.before["lock_held"]


def _read_until(proc, pattern, deadline_s=30.0):
    """Lines of proc.stdout until one matches `pattern` (no sleeping: select on the pipe, with a deadline)."""
    regex = re.compile(pattern)
    lines: list[str] = []
    buffer = b""
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + deadline_s
    fd = proc.stdout.fileno()
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line matching {pattern!r} in time; got {lines!r}")
            if not selector.select(timeout=remaining):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"stdout closed before {pattern!r}; got {lines!r}")
            buffer += chunk
            while b"\n" in buffer:
                raw, buffer = buffer.split(b"\n", 1)
                line = raw.decode("utf-8", "replace")
                lines.append(line)
                if regex.search(line):
                    return lines
    finally:
        selector.close()


def test_sigint_saves_a_resumable_checkpoint_and_exits_130(cli, tmp_path, doubles):
    scenario = doubles.builder_scenario({1: {"duration": 0.01}, 2: {"duration": 60}, 3: {"duration": 0}})
    ws = doubles.write_workspace(tmp_path / "project", scenario, config={"checkpoints": {"every_steps": 1}})
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio_tui", "build", "Fix the flaky thing", "--headless", "--speed", "1"],
        cwd=ws.project_root,
        env=doubles.cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        seen = _read_until(proc, r"checkpoint\s+cp_\d+ builder_step_1")
        assert any("routed" in line for line in seen), "resumable from the first checkpoint, right after routing"
        # while it runs (step 2 takes a minute), a second build is refused, naming the holder's pid
        second = cli("build", "Fix something else", "--headless", "--speed", "0", cwd=ws.project_root)
        assert_clean_failure(second, f"pid {proc.pid}")
        proc.send_signal(signal.SIGINT)
        out_b, err_b = proc.communicate(timeout=30)
        out, err = out_b.decode("utf-8", "replace"), err_b.decode("utf-8", "replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    events = latest_events(ws)
    saved = [e for e in events if isinstance(e, ev.CheckpointSaved) and e.reason == "interrupt"]
    assert len(saved) == 1
    assert events[-1].type == "orchestration_finished" and events[-1].status == "interrupted"
    assert f"resume {saved[0].checkpoint_id}" in out
    record = ws.find_checkpoint(saved[0].checkpoint_id)
    assert record.state.agent("builder").steps_completed == [1]
    assert fold(events).to_yaml() == ws.state_path(ws.latest()).read_text()
    # the lock was released, and the checkpoint resumes to the end without redoing step 1
    done = cli("resume", saved[0].checkpoint_id, "--headless", "--speed", "0", cwd=ws.project_root)
    assert done.returncode == 0, done.stderr
    after = [e for e in latest_events(ws) if e.seq > events[-1].seq]
    assert [e.step for e in after if isinstance(e, ev.AgentStep) and e.status == "started"] == [2, 3]


def test_replay_headless_prints_the_state_at_a_seq_and_lists_bad_lines(tmp_path):
    """`replay LOG --headless --to SEQ --json` gives the state at that event and reports skipped lines."""
    import json as _json
    import subprocess as _sp
    import sys as _sys

    from studio_tui.core.reducer import fold
    from studio_tui.core.store import Workspace, read_log

    env = {**os.environ, "CI": "true"}
    done = _sp.run(
        [_sys.executable, "-m", "studio_tui", "demo", "--speed", "0", "--into", str(tmp_path / "q")],
        capture_output=True,
        text=True,
        env=env,
        stdin=_sp.DEVNULL,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    ws = Workspace(tmp_path / "q" / ".studio")
    orch_id = ws.latest()
    log = ws.events_path(orch_id)
    with open(log, "ab") as handle:
        handle.write(b"{not json}\n")
    out = _sp.run(
        [_sys.executable, "-m", "studio_tui", "-w", str(ws.root), "replay", orch_id, "--headless", "--to", "25", "--json"],
        capture_output=True,
        text=True,
        env=env,
        stdin=_sp.DEVNULL,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    payload = _json.loads(out.stdout)
    expected = fold([e for e in read_log(log).events if e.seq <= 25])
    assert payload["orchestration_state"] == expected.to_dict()
    assert payload["replay"]["reached_seq"] == 25
    full = _sp.run(
        [_sys.executable, "-m", "studio_tui", "replay", str(log), "--json"],
        capture_output=True,
        text=True,
        env=env,
        stdin=_sp.DEVNULL,
        timeout=60,
    )
    bad = _json.loads(full.stdout)["replay"]["bad_lines"]
    assert [b["line"] for b in bad] == [len(log.read_text().splitlines())]
