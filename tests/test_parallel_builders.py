"""Parallel Builders end to end: real git worktrees, real command agents, the real CLI, kill -9 and resume."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from studio_tui.core import events as ev
from studio_tui.core.parallel import git
from studio_tui.core.store import read_log

RUN_TIMEOUT = 180.0
"""Seconds a whole parallel run may take on a loaded machine (agents only wait for each other)."""

AGENT = r"""
import json, os, sys, time
def emit(**message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()
handoff = json.loads(sys.stdin.readline())
task, root = handoff["task_id"], handoff["project_root"]
shared = os.environ["STUDIO_TEST_DIR"]
setup = json.load(open(os.path.join(shared, "setup.json")))
open(os.path.join(shared, f"started-{task}-{os.getpid()}"), "w").close()
emit(type="progress", step=1, total=2, description=f"{task}: wait for its partner")
deadline = time.monotonic() + 90
def wait(condition, what):
    while not condition():
        if time.monotonic() > deadline:
            emit(type="failure", category="blocker", message=f"{task}: gave up waiting for {what}")
            sys.exit(1)
        time.sleep(0.05)
if setup.get("kill_worker") == task and handoff["attempt"] == 1:
    import signal
    os.kill(os.getppid(), signal.SIGKILL)  # the process running this agent: a Dask worker lost mid-task
    sys.exit(1)
partner = setup.get("pairs", {}).get(task)
if partner:
    wait(lambda: any(n.startswith(f"started-{partner}-") for n in os.listdir(shared)), f"{partner} to start")
wait(lambda: not os.path.exists(os.path.join(shared, f"hold-{task}")), "its hold file to go")
emit(type="progress", step=1, total=2, done=True)
emit(type="progress", step=2, total=2, description=f"{task}: write its file")
name = setup.get("files", {}).get(task, f"{task}.txt")
seen = sorted(n for n in os.listdir(root) if n.endswith(".txt"))
with open(os.path.join(root, name), "w") as f:
    f.write(f"made by {task}\n" if setup.get("plain") else f"made by {task}; saw {' '.join(seen)}\n")
emit(type="progress", step=2, total=2, done=True)
emit(type="result", output={"task_id": task, "root": root})
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"CI": "true", "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "COLUMNS": "160"})
    return env


class Project:
    """A git project with a .studio workspace whose Builder is the command agent above."""

    def __init__(self, root: Path, tasks: list[dict], setup: dict, **config_extra: object) -> None:
        self.root = root
        self.studio = root / ".studio"
        self.shared = root.parent / "shared"
        self.shared.mkdir(parents=True)
        (self.shared / "setup.json").write_text(json.dumps(setup))
        root.mkdir()
        git(root, "init", "-q", "-b", "main")
        (root / "README.md").write_text("a project\n")
        (root / "shared.txt").write_text("shared\n")
        (root / ".gitignore").write_text(".studio/\n")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "base")
        self.studio.mkdir()
        agent = root.parent / "agent.py"
        agent.write_text(AGENT)
        command = {"kind": "command", "command": [sys.executable, str(agent)], "env": {"STUDIO_TEST_DIR": str(self.shared)}, "timeout": 120}
        config = {
            "agents": {"builder": command, "planner": command, "architect": command},
            "recovery": {"max_retries": 0, "max_replans": 0, "backoff": {"initial": 0}},
            "checkpoints": {"every_steps": 0},
            **config_extra,
        }
        (self.studio / "config.yaml").write_text(yaml.safe_dump(config))
        backlog = {"epics": [{"id": "E1", "title": "Epic", "features": [{"id": "F1", "title": "Feature", "tasks": tasks}]}]}
        (self.studio / "backlog.yaml").write_text(yaml.safe_dump(backlog, sort_keys=False))

    def cli(self, *args: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "studio_tui", "--workspace", str(self.studio), *args],
            cwd=self.root,
            env=_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def events(self) -> list[ev.Event]:
        (orch,) = list((self.studio / "orchestration").iterdir())
        return read_log(orch / "events.jsonl").events

    def started(self, task: str) -> list[str]:
        return [n for n in os.listdir(self.shared) if n.startswith(f"started-{task}-")]

    def task_commits(self) -> list[str]:
        subjects = git(self.root, "log", "--format=%s", "--reverse").stdout.splitlines()
        return [s for s in subjects if s != "base"]


def _tasks(*ids: str, deps: dict[str, list[str]] | None = None) -> list[dict]:
    deps = deps or {}
    return [{"id": t, "title": f"Task {t}", **({"depends_on": deps[t]} if t in deps else {})} for t in ids]


def _seq(events: list[ev.Event], cls: type, agent: str) -> int:
    found = [e.seq for e in events if isinstance(e, cls) and getattr(e, "agent", None) == agent]
    assert found, f"no {cls.__name__} for {agent}"
    return found[0]


def test_four_tasks_with_parallel_2_overlap_each_in_its_own_worktree_and_merge_in_order(tmp_path: Path) -> None:
    ids = ["T1", "T2", "T3", "T4"]
    project = Project(tmp_path / "project", _tasks(*ids), {"pairs": {"T1": "T2", "T2": "T1", "T3": "T4", "T4": "T3"}})
    run = project.cli("run-backlog", "--headless", "--parallel", "2")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    events = project.events()
    # the pairs really ran at the same time: each started before its partner finished
    for a, b in (("T1", "T2"), ("T3", "T4")):
        assert _seq(events, ev.AgentStarted, f"builder:{a}") < _seq(events, ev.AgentCompleted, f"builder:{b}")
        assert _seq(events, ev.AgentStarted, f"builder:{b}") < _seq(events, ev.AgentCompleted, f"builder:{a}")
    # never more than two at once
    running: set[str] = set()
    for event in events:
        if isinstance(event, ev.AgentStarted):
            running.add(event.agent)
            assert len(running) <= 2, running
        elif isinstance(event, (ev.AgentCompleted, ev.AgentFailed)):
            running.discard(event.agent)
    # each in its own worktree, on its own branch, from HEAD
    worktrees = {e.task_id: e for e in events if isinstance(e, ev.TaskWorktree)}
    assert sorted(worktrees) == ids
    orch_id = events[0].orch_id
    for task_id, event in worktrees.items():
        assert event.branch == f"studio/{orch_id}/{task_id}"
        assert event.path == f".studio/worktrees/{orch_id}/{task_id}"
    outputs = {e.agent: e.output for e in events if isinstance(e, ev.AgentCompleted)}
    assert {outputs[f"builder:{t}"]["root"] for t in ids} == {str(project.root / w.path) for w in worktrees.values()}
    # merged back in task order, each file in the project, worktrees gone
    merged = [e.task_id for e in events if isinstance(e, ev.TaskMerged)]
    assert merged == ids
    assert project.task_commits() == [f"{t}: Task {t}" for t in ids]
    for task_id in ids:
        assert (project.root / f"{task_id}.txt").read_text().startswith(f"made by {task_id}")
        assert not (project.root / worktrees[task_id].path).exists()
    # every event of a task names it
    for event in events:
        if isinstance(event, (ev.AgentStarted, ev.AgentStep, ev.AgentCompleted, ev.TaskWorktree, ev.TaskMerged)):
            assert event.agent.partition(":")[2] in ids
    assert git(project.root, "status", "--porcelain", "--untracked-files=no").stdout == ""
    state = yaml.safe_load((project.studio / "backlog.yaml").read_text())
    assert [t["status"] for t in state["epics"][0]["features"][0]["tasks"]] == ["completed"] * 4


@pytest.mark.parametrize("answer", ["skip", "abort"])
def test_a_conflicting_pair_escalates_naming_the_file(tmp_path: Path, answer: str) -> None:
    setup = {"pairs": {"A": "B", "B": "A"}, "files": {"A": "shared.txt", "B": "shared.txt"}}
    project = Project(tmp_path / "project", _tasks("A", "B", "C"), setup)
    run = project.cli("run-backlog", "--headless", "--parallel", "2", "--on-escalation", answer)
    events = project.events()
    (asked,) = [e for e in events if isinstance(e, ev.DecisionRequested)]
    assert asked.kind == "escalation" and asked.agent == "builder:B"
    assert asked.details["conflicts"] == ["shared.txt"]
    assert "shared.txt" in asked.prompt
    assert (project.root / "shared.txt").read_text().startswith("made by A")
    if answer == "skip":
        assert run.returncode == 0, run.stdout[-3000:]
        assert [e.task_id for e in events if isinstance(e, ev.TaskMerged)] == ["A", "C"]
        assert project.task_commits() == ["A: Task A", "C: Task C"]
        statuses = {e.agent: e.status for e in events if isinstance(e, ev.AgentStatus)}
        assert statuses["builder:B"] == "skipped"
    else:
        assert run.returncode == 1
        assert events[-1].type == "orchestration_finished" and events[-1].status == "aborted"
        assert "shared.txt" in events[-1].summary
        assert project.task_commits() == ["A: Task A"]
    assert git(project.root, "status", "--porcelain", "--untracked-files=no").stdout == ""


def test_depends_on_is_honoured(tmp_path: Path) -> None:
    tasks = _tasks("T1", "T2", "T3", "T4", deps={"T3": ["T1"], "T4": ["T3", "T2"]})
    project = Project(tmp_path / "project", tasks, {})
    run = project.cli("run-backlog", "--headless", "--parallel", "3")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    events = project.events()
    merged = {e.task_id: e for e in events if isinstance(e, ev.TaskMerged)}
    assert _seq(events, ev.AgentStarted, "builder:T3") > merged["T1"].seq
    assert _seq(events, ev.AgentStarted, "builder:T4") > max(merged["T2"].seq, merged["T3"].seq)
    # what a dependent builds on holds its dependencies' work
    assert "T1.txt" in (project.root / "T3.txt").read_text()
    assert {"T1.txt", "T2.txt", "T3.txt"} <= set((project.root / "T4.txt").read_text().split())
    assert list(merged) == ["T1", "T2", "T3", "T4"]


def test_parallel_without_git_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    project = tmp_path / "plain"
    studio = project / ".studio"
    studio.mkdir(parents=True)
    backlog = {"epics": [{"id": "E1", "title": "E", "features": [{"id": "F1", "title": "F", "tasks": _tasks("T1", "T2")}]}]}
    (studio / "backlog.yaml").write_text(yaml.safe_dump(backlog))
    every = {"kind": "plan_builder"}
    (studio / "config.yaml").write_text(yaml.safe_dump({"agents": {"planner": every, "builder": every, "architect": every}}))
    run = subprocess.run(
        [sys.executable, "-m", "studio_tui", "--workspace", str(studio), "run-backlog", "--headless", "--parallel", "2"],
        cwd=project,
        env=_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "--parallel needs a git repository" in run.stderr
    assert not (studio / "orchestration").exists()


def _wait_for(condition, what: str, proc: subprocess.Popen[str] | None = None, timeout: float = RUN_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the run ended ({proc.returncode}) before {what}")
        time.sleep(0.05)  # polling a condition with a deadline
    raise AssertionError(f"timed out waiting for {what}")


def test_kill_9_mid_parallel_run_then_resume_does_not_redo_merged_tasks(tmp_path: Path) -> None:
    ids = ["T1", "T2", "T3", "T4"]
    project = Project(tmp_path / "project", _tasks(*ids), {"pairs": {"T1": "T2", "T2": "T1"}})
    for held in ("T3", "T4"):
        (project.shared / f"hold-{held}").touch()
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio_tui", "--workspace", str(project.studio), "run-backlog", "--headless", "--parallel", "2"],
        cwd=project.root,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:

        def merged_two_and_t3_running() -> bool:
            if not (project.studio / "orchestration").is_dir() or not list((project.studio / "orchestration").iterdir()):
                return False
            events = project.events()
            merged = {e.task_id for e in events if isinstance(e, ev.TaskMerged)}
            return {"T1", "T2"} <= merged and bool(project.started("T3")) and bool(project.started("T4"))

        _wait_for(merged_two_and_t3_running, "T1 and T2 merged while T3 and T4 run", proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for marker in project.started("T3") + project.started("T4"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(marker.rsplit("-", 1)[1]), signal.SIGKILL)  # the killed run's agents (their own sessions)
    assert project.task_commits() == ["T1: Task T1", "T2: Task T2"]
    for held in ("T3", "T4"):
        (project.shared / f"hold-{held}").unlink()
    listing = json.loads(project.cli("checkpoints", "--json").stdout)
    newest = max(listing, key=lambda c: (c["ts"], c["id"]))
    resumed = project.cli("resume", newest["id"], "--headless", "--parallel", "2")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    # merged tasks were not built again; the ones in flight were, once more
    assert len(project.started("T1")) == 1 and len(project.started("T2")) == 1
    assert len(project.started("T3")) == 2 and len(project.started("T4")) == 2
    assert project.task_commits() == [f"{t}: Task {t}" for t in ids]
    events = project.events()
    after = [e for e in events if e.seq > next(x.seq for x in events if isinstance(x, ev.Resumed))]
    # a merge the crash cut short of its checkpoint is found in git, not made again
    assert [e.task_id for e in after if isinstance(e, ev.TaskMerged) and e.how != "already merged"] == ["T3", "T4"]
    assert not any(isinstance(e, ev.AgentStarted) and e.agent in ("builder:T1", "builder:T2") for e in after)
    assert events[-1].status == "completed"


def test_decompose_first_runs_the_architect_alone_then_each_tasks_planner_and_builder_in_parallel(tmp_path: Path) -> None:
    import shutil

    project = tmp_path / "project"
    shutil.copytree(Path(__file__).resolve().parent.parent / ".studio-example", project / ".studio")
    git(project, "init", "-q", "-b", "main")
    (project / ".gitignore").write_text(".studio/\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "base")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio_tui",
            "--workspace",
            str(project / ".studio"),
            "build",
            "Build the identity platform project",
            "--headless",
            "--parallel",
            "2",
            "--speed",
            "0",
            "--on-escalation",
            "retry",
        ],
        cwd=project,
        env=_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (orch,) = list((project / ".studio" / "orchestration").iterdir())
    events = read_log(orch / "events.jsonl").events
    started = [e.agent for e in events if isinstance(e, ev.AgentStarted)]
    architect_done = _seq(events, ev.AgentCompleted, "architect")
    assert started[0] == "architect"
    assert all(e.seq > architect_done for e in events if isinstance(e, ev.AgentStarted) and e.agent != "architect")
    for task_id in ("T1", "T2"):  # a task's planner runs before its builder, in the task's worktree
        assert _seq(events, ev.AgentCompleted, f"planner:{task_id}") < _seq(events, ev.AgentStarted, f"builder:{task_id}")
    # the scripted agents change no file: nothing to merge, and the project's history is untouched
    assert [(e.task_id, e.how) for e in events if isinstance(e, ev.TaskMerged)] == [("T1", "nothing to merge"), ("T2", "nothing to merge")]
    assert git(project, "rev-list", "--count", "HEAD").stdout.strip() == "1"
