"""The real command line: route (and the hijack), liveness of a run whose writer is gone, a closed
output pipe, orphaned agent processes, resume after SIGTERM in a replan, rewind, and fork with its
files and code restored in a git project."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from studio_tui.core import events as ev
from studio_tui.core.agents import groups
from studio_tui.core.reducer import fold
from studio_tui.core.store import Workspace, read_log

DEADLINE_S = 60.0


def studio(ws: Workspace, *args: str) -> list[str]:
    return [sys.executable, "-m", "studio_tui", "--workspace", str(ws.root), *args]


def wait_until(condition, what: str, proc: subprocess.Popen | None = None) -> None:
    """Poll `condition` with a deadline (fails at once if `proc` ends first)."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if proc is not None:
            assert proc.poll() is None, f"process ended (exit {proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def log_has(ws: Workspace, needle: str) -> bool:
    orchs = ws.orchestrations()
    if not orchs:
        return False
    path = ws.events_path(orchs[-1])
    return path.exists() and needle in path.read_text(encoding="utf-8", errors="replace")


def use_plan_builder(ws: Workspace) -> Workspace:
    config = yaml.safe_load(ws.config_path.read_text())
    config["agents"]["builder"] = {"kind": "plan_builder", "step_timeout": 120}
    ws.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return ws


def plan_with(task_id: str, commands: list[str], **extra) -> dict:
    return {
        "id": f"bp_{task_id}",
        "task_id": task_id,
        "status": "pending",
        "summary": "commands with side effects",
        "steps": [{"id": n, "description": f"step {n}", "command": c} for n, c in enumerate(commands, start=1)],
        **extra,
    }


def newest_cp(ws: Workspace, orch_id: str) -> str:
    ids = [cp for cp, path in ws.checkpoint_paths() if path.parent.parent.name == orch_id]
    return max(ids, key=lambda c: int(c[3:]))


# ── route and the hijack ────────────────────────────────────────────────


def test_route_prints_the_decision_and_runs_nothing(write_ws, cli):
    ws = write_ws({"goal": "x"}, plans={"task_p": plan_with("task_p", ["echo p >> sidefx.log"])})
    done = cli("--workspace", str(ws.root), "route", "Add a double() helper", "--json", cwd=ws.project_root)
    assert done.returncode == 0, done.stderr
    decided = json.loads(done.stdout)
    assert decided["workflow"] == "plan_then_build"
    assert [a["key"] for a in decided["agents"]] == ["planner", "builder"]
    assert decided["pending_plans"][0]["task_id"] == "task_p" and decided["pending_plans"][0]["used"] is False
    assert ws.orchestrations() == []  # nothing ran
    named = json.loads(cli("--workspace", str(ws.root), "route", "Finish task_p", "--json", cwd=ws.project_root).stdout)
    assert (named["workflow"], named["agents"][0]["task_id"], named["pending_plans"][0]["used"]) == ("build_only", "task_p", True)
    chosen = cli("--workspace", str(ws.root), "route", "Anything", "--plan", "task_p", cwd=ws.project_root)
    assert chosen.returncode == 0 and "build_only" in chosen.stdout and "USED" in chosen.stdout
    missing = cli("--workspace", str(ws.root), "route", "Anything", "--plan", "task_nope", cwd=ws.project_root)
    assert missing.returncode == 2 and "task_nope" in missing.stderr


async def test_a_leftover_plan_of_a_halted_run_neither_hijacks_nor_is_picked(write_ws, run_build, cli):
    halting = {"goal": "Fix it", "builder": {"steps": {1: {"duration": 0, "outcomes": [{"fail": "critical", "message": "disk on fire"}]}}}}
    ws = write_ws(halting, plans={"task_h": plan_with("task_h", ["echo hijacked >> sidefx.log"])})
    halted = await run_build(ws, "Fix task_h")
    assert halted.state.status == "halted"
    decided = json.loads(cli("--workspace", str(ws.root), "route", "Add a double() helper", "--json", cwd=ws.project_root).stdout)
    assert decided["workflow"] == "plan_then_build"
    [plan] = decided["pending_plans"]
    assert plan["used"] is False and plan["left_by"] == f"{halted.state.id} (halted)"
    assert "stopped run" in plan["note"]


# ── liveness ────────────────────────────────────────────────────────────


class Crash(BaseException):
    pass


async def test_a_run_whose_writer_is_gone_shows_stopped_with_the_resume_command(write_ws, run_build, doubles, cli):
    ws = write_ws(doubles.mini_scenario(blocker=False))

    def crash(event, state):
        if isinstance(event, ev.AgentStep) and event.agent == "builder" and event.status == "completed":
            raise Crash

    with pytest.raises(Crash):
        await run_build(ws, subscribers=(crash,))
    state = fold(read_log(ws.events_path(ws.latest())).events)
    assert not state.finished
    done = cli("--workspace", str(ws.root), "status", cwd=ws.project_root)
    assert done.returncode == 0, done.stderr
    assert "STOPPED (no writer since " in done.stdout
    cp = newest_cp(ws, state.id)
    assert f"resume {cp}" in done.stdout
    watched = cli("--workspace", str(ws.root), "watch", "--headless", cwd=ws.project_root)
    assert watched.returncode == 1, watched.stdout + watched.stderr
    assert "STOPPED (no writer since " in watched.stdout and f"resume {cp}" in watched.stdout
    as_json = json.loads(cli("--workspace", str(ws.root), "status", "--json", cwd=ws.project_root).stdout)
    assert as_json["stopped"]["label"].startswith("STOPPED (no writer since ")
    # a finished run is not STOPPED
    doubles_done = cli(
        "--workspace", str(ws.root), "resume", cp, "--headless", "--on-escalation", "retry", "--speed", "0", cwd=ws.project_root
    )
    assert doubles_done.returncode == 0, doubles_done.stderr
    assert "STOPPED" not in cli("--workspace", str(ws.root), "status", cwd=ws.project_root).stdout


def test_a_closed_output_pipe_saves_an_interrupted_checkpoint_and_exits_130(tmp_path, cli_env_fixture):
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio_tui", "demo", "--headless", "--into", str(tmp_path / "p"), "--speed", "2"],
        env=cli_env_fixture,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    for _ in range(3):  # what `| head -3` reads
        proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=DEADLINE_S) == 130, err
    assert "output closed (broken pipe)" in err and "Traceback" not in err
    ws = Workspace(tmp_path / "p" / ".studio")
    state = fold(read_log(ws.events_path(ws.latest())).events)
    assert state.status == "interrupted"
    assert [c.name for c in state.checkpoints][:1] == ["routed"]
    assert state.checkpoints[-1].name == "interrupted"
    assert f"resume {state.checkpoints[-1].id}" in err


@pytest.fixture
def cli_env_fixture(doubles, _subprocess_bytecode_cache):
    return doubles.cli_env()


# ── orphans ─────────────────────────────────────────────────────────────


@pytest.mark.skipif(groups.preexec() is None, reason="no parent-death signal on this platform")
def test_kill_9_leaves_no_agent_process_running_a_step_twice(write_ws, cli_env_fixture):
    # step 1 hangs in a subshell the first time (the shell's own child: the parent-death signal does
    # not reach it), and would append 'late' when it wakes; after `touch go` it is quick.
    step = "test -f go || ( sleep 120; echo late >> sidefx.log ); echo once >> sidefx.log"
    ws = use_plan_builder(write_ws({"goal": "x"}, plans={"task_o": plan_with("task_o", [step, "echo two >> sidefx.log"])}))
    proc = subprocess.Popen(
        studio(ws, "build", "Finish task_o", "--headless", "--on-escalation", "abort"),
        cwd=ws.project_root,
        env=cli_env_fixture,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: ws.latest() is not None and any((ws.orch_dir(ws.latest()) / "processes").glob("*.json")), "a recorded group", proc
        )
        folder = ws.orch_dir(ws.latest()) / "processes"
        wait_until(lambda: sum(len(m) for _, m in groups.survivors(folder).values()) >= 3, "the step's processes", proc)
        leader = int(next(folder.glob("*.json")).stem)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    # the group's leader died with the orchestrator (parent-death signal); its subshell is still there
    wait_until(lambda: leader not in [p for _, m in groups.survivors(folder).values() for p in m], "the leader to die")
    assert groups.survivors(folder), "expected the subshell to outlive the kill (that is what resume must end)"
    (ws.project_root / "go").touch()
    done = subprocess.run(
        studio(ws, "resume", newest_cp(ws, ws.latest()), "--headless", "--on-escalation", "abort"),
        cwd=ws.project_root,
        env=cli_env_fixture,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "leftover process" in done.stdout
    assert groups.survivors(folder) == {}
    assert (ws.project_root / "sidefx.log").read_text().split() == ["once", "two"]


# ── SIGTERM during a replan ─────────────────────────────────────────────


def test_resume_after_sigterm_in_a_replan_builds_the_replanned_plan(example_ws, cli_env_fixture):
    ws = example_ws
    proc = subprocess.Popen(
        studio(ws, "build", "Add user authentication with OAuth", "--headless", "--on-escalation", "retry", "--speed", "2"),
        cwd=ws.project_root,
        env=cli_env_fixture,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: log_has(ws, '"mode":"replan"'), "the replan to start", proc)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    orch_id = ws.latest()
    cp = newest_cp(ws, orch_id)
    assert ws.find_checkpoint(cp).meta.name == "interrupted"
    done = subprocess.run(
        studio(ws, "resume", cp, "--headless", "--on-escalation", "retry", "--speed", "0"),
        cwd=ws.project_root,
        env=cli_env_fixture,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    events = read_log(ws.events_path(orch_id)).events
    resumed_at = max(i for i, e in enumerate(events) if isinstance(e, ev.Resumed))
    after = [e for e in events[resumed_at:] if isinstance(e, ev.AgentStarted)]
    assert (after[0].agent, after[0].mode) == ("planner", "replan")
    final = fold(events)
    assert final.status == "completed"
    assert final.agent("builder").output.get("plan_id", "").startswith("bp_oauth_r") or any(
        h.context.get("plan_id", "").startswith("bp_oauth_r") for h in final.handoffs if h.to_agent == "builder"
    )
    assert [h.context["plan_id"] for h in final.handoffs if h.to_agent == "builder"][-1].startswith("bp_oauth_r")


# ── rewind ──────────────────────────────────────────────────────────────


async def test_resuming_an_older_checkpoint_is_a_rewind_that_must_be_confirmed(write_ws, run_build, doubles, cli):
    ws = write_ws(doubles.mini_scenario(blocker=False))
    first = await run_build(ws)
    assert first.state.status == "completed"
    older = next(c.id for c in first.state.checkpoints if c.name == "planner_complete")
    refused = cli(
        "--workspace", str(ws.root), "resume", older, "--headless", "--on-escalation", "retry", "--speed", "0", cwd=ws.project_root
    )
    assert refused.returncode == 2
    assert "rewind" in refused.stderr and "--yes" in refused.stderr
    assert len(read_log(ws.events_path(first.state.id)).events) == len(first.events)  # nothing written
    done = cli(
        "--workspace", str(ws.root), "resume", older, "--yes", "--headless", "--on-escalation", "retry", "--speed", "0", cwd=ws.project_root
    )
    assert done.returncode == 0, done.stderr
    assert "REWOUND" in done.stdout
    events = read_log(ws.events_path(first.state.id)).events
    assert [e.rewind for e in events if isinstance(e, ev.Resumed)] == [True]


# ── fork, with files and code restored ──────────────────────────────────


def git(project: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=project, env=env, capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_fork_restores_state_files_and_code_and_records_its_parent(write_ws, cli_env_fixture):
    plan = plan_with("task_f", ["echo built >> code.txt", "echo more >> code.txt"])
    plan["status"] = "pending"
    scenario = {"goal": "Add the feature", "planner": {"steps": [{"duration": 0}], "plan": plan}}
    ws = use_plan_builder(write_ws(scenario))
    project = ws.project_root
    (project / ".gitignore").write_text(".studio/\n")
    (project / "code.txt").write_text("original\n")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "initial")
    head = git(project, "rev-parse", "HEAD")

    def run(*a: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            studio(ws, *a), cwd=project, env=cli_env_fixture, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=DEADLINE_S
        )

    first = run("build", "Add the feature", "--headless", "--on-escalation", "abort")
    assert first.returncode == 0, first.stdout + first.stderr
    parent = ws.latest()
    assert (project / "code.txt").read_text() == "original\nbuilt\nmore\n"
    cp = next(c for c in fold(read_log(ws.events_path(parent)).events).checkpoints if c.name == "planner_complete")
    record = ws.find_checkpoint(cp.id)
    assert record.meta.code_ref == f"refs/studio/{parent}/{cp.id}"
    assert git(project, "rev-parse", record.meta.code_ref).strip() == record.meta.code_commit
    # the person's branch, index and HEAD were never touched
    assert git(project, "rev-parse", "HEAD") == head
    assert git(project, "diff", "--cached", "--name-only") == ""
    assert git(project, "stash", "list") == ""
    # a change no snapshot holds would be lost: restoring the code is refused
    (project / "mine.txt").write_text("precious\n")
    refused = run("fork", cp.id, "--restore-code", "--headless", "--on-escalation", "abort")
    assert refused.returncode == 2 and "uncommitted changes" in refused.stderr and "mine.txt" in refused.stderr
    (project / "mine.txt").unlink()
    # the plan file changed after the checkpoint: the fork puts it back
    plan_path = ws.task_dir("task_f") / "plan.json"
    plan_path.write_text(plan_path.read_text().replace("commands with side effects", "edited later"))
    forked = run("fork", cp.id, "--goal", "Add the feature, again", "--restore-code", "--headless", "--on-escalation", "abort")
    assert forked.returncode == 0, forked.stdout + forked.stderr
    assert "code restored" in forked.stdout
    child = ws.latest()
    assert child != parent
    state = fold(read_log(ws.events_path(child)).events)
    assert (state.parent_orch_id, state.parent_checkpoint_id) == (parent, cp.id)
    assert state.goal == "Add the feature, again" and state.status == "completed"
    assert "edited later" not in plan_path.read_text()
    # code as the checkpoint saw it ("original"), then the fork's builder ran its two steps once
    assert (project / "code.txt").read_text() == "original\nbuilt\nmore\n"
    started = [e for e in read_log(ws.events_path(child)).events if isinstance(e, ev.OrchestrationStarted)]
    assert (started[0].parent_orch_id, started[0].parent_checkpoint_id) == (parent, cp.id)
    listed = json.loads(run("checkpoints", "--json").stdout)
    assert any(c["orch_id"] == child and c.get("parent") == f"{parent}/{cp.id}" for c in listed)


def test_runs_started_in_the_same_second_are_ordered_by_their_first_event(tmp_path):
    """A fork right after a short run shares its id's second; the random suffix must not decide which is latest."""
    from studio_tui.core import events as ev
    from studio_tui.core.store import EventLogWriter, Workspace

    ws = Workspace(tmp_path / ".studio")
    first, second = "orch_20261201_002804_ffff", "orch_20261201_002804_0000"  # the later run's suffix sorts first
    for orch_id, ts in ((first, 1796000000.25), (second, 1796000000.75)):
        ws.orch_dir(orch_id).mkdir(parents=True)
        writer = EventLogWriter(ws.events_path(orch_id))
        writer.append(ev.OrchestrationStarted(seq=1, ts=ts, orch_id=orch_id, goal="g"))
        writer.close()
    ws.orch_dir("orch_20261201_002803_aaaa").mkdir()  # a second earlier, no log yet: ordered by its id
    assert ws.orchestrations() == ["orch_20261201_002803_aaaa", first, second]
    assert ws.latest() == second
