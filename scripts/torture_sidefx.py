"""Kill -9 torture with the plan builder running real commands: `python scripts/torture.py --plan-builder --runs 52 --seed 1`.

Every plan step is a shell command that appends one line naming itself to `sidefx.log` in the
project (`echo T:N >> sidefx.log; exec sleep D`), so a step that runs twice leaves two lines. Runs
cycle through the four workflows:

- plan_then_build: the scripted Planner writes a plan whose step 2 fails as a design flaw the first
  time; the replan replaces it (the builder must build the replanned plan);
- build_only: a pending plan the goal names;
- decompose_first: the Architect writes a backlog of two tasks, a Planner and a Builder per task;
- multi_task: two backlog tasks with pending plans, named in the goal.

Each run is killed (SIGKILL) 1..--max-kills times at seeded moments: after the k-th new log line,
after a delay, right when a checkpoint is being written, right when a replan starts, or right after a
resume started; after each kill the newest checkpoint is resumed. Measured:

- re_executed_completed_steps: for every step the log recorded as completed when a kill landed, the
  lines it appended after that kill (must be 0; the step in flight may legitimately run again);
- orphans_after_kill: processes still alive in the killed run's recorded agent process groups once the
  killed process is reaped (must be 0: they die with it);
- leftover_after_resume: processes of any recorded group alive after the run ended (must be 0);
- mismatches: final state (agents, outputs including the plan built, handoffs, failures, milestone
  checkpoints, plan files, backlog) and the set of lines in sidefx.log differ from an uninterrupted
  run of the same workflow.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from studio_tui.core.agents import groups  # noqa: E402
from studio_tui.core.reducer import fold  # noqa: E402
from studio_tui.core.store import Workspace, read_log  # noqa: E402

RUN_TIMEOUT = 120.0
"""Deadline for any one studio-tui process (a hang is a failure, not a wait)."""
STEP_SECONDS = 0.03
"""How long each step's command lingers after its side effect, so kills land inside steps too."""
LEADER_DEATH_SECONDS = 5.0
"""How long after a kill the agent group leaders may take to be reaped (parent-death signal)."""

WORKFLOWS = ("plan_then_build", "build_only", "decompose_first", "multi_task")


def _step(task: str, n: int) -> str:
    return f"echo {task}:{n} >> sidefx.log; exec sleep {STEP_SECONDS}"


def _plan(task: str, steps: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"bp_{task}",
        "task_id": task,
        "summary": f"side effects of {task}",
        "confidence": 0.9,
        "steps": [{"id": n, "description": f"{task} step {n}", "command": _step(task, n), "risky": n == 2} for n in range(1, steps + 1)],
        **extra,
    }


def _backlog(tasks: list[str]) -> dict[str, Any]:
    return {
        "epics": [
            {
                "id": "E1",
                "title": "side effects",
                "features": [{"id": "F1", "title": "f", "tasks": [{"id": t, "title": f"do {t}"} for t in tasks]}],
            }
        ]
    }


def make_workspace(base: Path, name: str, workflow: str) -> tuple[Workspace, str]:
    """A project for `workflow`: scripted Planner/Architect, the plan builder; returns (workspace, goal)."""
    root = base / name / ".studio"
    root.mkdir(parents=True)
    ws = Workspace(root)
    config = {
        "recovery": {
            "max_retries": 5,
            "max_replans": 1,
            "max_tries_per_step": 5,
            "loop_guard": 3,
            "backoff": {"initial": 0.0, "factor": 1.0, "max": 0.0},
        },
        "checkpoints": {"every_steps": 2},
        "agents": {
            "planner": {"kind": "scripted", "scenario": "scenario.yaml"},
            "architect": {"kind": "scripted", "scenario": "scenario.yaml"},
            "builder": {"kind": "plan_builder", "step_timeout": 60},
        },
    }
    planner_steps = [{"duration": 0.05}, {"duration": 0.05}]
    scenario: dict[str, Any] = {"goal": "x"}
    if workflow == "plan_then_build":
        plan = _plan("task_a", 4)
        plan["steps"][1]["command"] = "test -f fixed || { echo design flaw >&2; exit 1; }; " + _step("task_a", 2)
        plan["steps"][1]["on_failure"] = "design_flaw"
        replan = {"steps": [{"id": 2, "description": "task_a step 2, another way", "command": "touch fixed; " + _step("task_a", 2)}]}
        scenario = {"goal": "Add the side effects", "planner": {"steps": planner_steps, "plan": plan, "replan": replan}}
        goal = "Add the side effects"
    elif workflow == "build_only":
        tasks = root / "tasks" / "task_b"
        tasks.mkdir(parents=True)
        (tasks / "plan.json").write_text(json.dumps(_plan("task_b", 5, status="pending"), indent=2))
        goal = "Finish task_b"
    elif workflow == "decompose_first":
        scenario = {
            "goal": "Launch the side-effect platform",
            "planner": {"steps": planner_steps, "plan": _plan("T1", 3)},
            "architect": {
                "steps": [{"duration": 0.05}],
                "backlog": _backlog(["T1", "T2"]),
                "plans": {"T1": _plan("T1", 3), "T2": _plan("T2", 3)},
            },
        }
        goal = "Launch the side-effect platform"
    else:
        for task in ("M1", "M2"):
            folder = root / "tasks" / task
            folder.mkdir(parents=True)
            (folder / "plan.json").write_text(json.dumps(_plan(task, 3, status="pending"), indent=2))
        (root / "backlog.yaml").write_text(yaml.safe_dump(_backlog(["M1", "M2"]), sort_keys=False))
        goal = "Run M1 and M2"
    (root / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (root / "scenario.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    return ws, goal


def _torture():
    """scripts/torture.py, for its shared helpers (env, spawn, comparison)."""
    import importlib.util

    name = "studio_torture"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("torture.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def sidefx(ws: Workspace) -> list[str]:
    path = ws.project_root / "sidefx.log"
    return path.read_text().split() if path.exists() else []


def completed_steps(ws: Workspace, orch_id: str | None) -> set[str]:
    """`task:step` of every builder step the log records as completed (the current branch)."""
    if orch_id is None or not ws.events_path(orch_id).exists():
        return set()
    state = fold(read_log(ws.events_path(orch_id)).events)
    done: set[str] = set()
    for agent in state.agent_states:
        if agent.role != "builder":
            continue
        task = agent.task_id or agent.input.get("task_id") or agent.output.get("task_id")
        done |= {f"{task}:{n}" for n in agent.steps_completed}
    return done


def live_members(ws: Workspace) -> int:
    total = 0
    for orch_id in ws.orchestrations():
        total += sum(len(members) for _, members in groups.survivors(ws.orch_dir(orch_id) / "processes").values())
    return total


@dataclass
class Reference:
    view: dict[str, Any]
    lines: list[str]
    log_lines: int
    seconds: float


def run_to_end(ws: Workspace, args: tuple[str, ...], out: Path) -> int:
    t = _torture()
    proc = t.spawn(ws, args, out)
    return proc.wait(timeout=RUN_TIMEOUT)


def run_args() -> tuple[str, ...]:
    return ("--headless", "--on-escalation", "retry", "--speed", "1")


def reference(base: Path, workflow: str) -> Reference:
    t = _torture()
    ws, goal = make_workspace(base, f"reference_{workflow}", workflow)
    code = run_to_end(ws, ("build", goal, *run_args()), base / f"reference_{workflow}.out")
    if code != 0:
        raise RuntimeError(f"uninterrupted {workflow} run exited {code}; see {base / f'reference_{workflow}.out'}")
    orch_id = ws.latest()
    events = read_log(ws.events_path(orch_id)).events
    state = fold(events)
    # the run's own length (first to last event): a kill delay counts from the run's first new line,
    # not from the process start, so it lands inside the run
    return Reference(t.comparable(ws, state), sorted(set(sidefx(ws))), t.line_count(ws.events_path(orch_id)), events[-1].ts - events[0].ts)


@dataclass
class RunResult:
    index: int
    seed: int
    workflow: str
    kills: int = 0
    resumes: int = 0
    restarts: int = 0
    kill_moments: Counter = field(default_factory=Counter)
    re_executed_completed_steps: int = 0
    orphans_after_kill: int = 0
    leftover_after_resume: int = 0
    mismatches: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)
    seconds: float = 0.0


MOMENTS = ("log_line", "delay", "checkpoint_write", "replan", "resume_start")


def _kill_when(
    proc: subprocess.Popen[bytes], ws: Workspace, orch_id: str | None, moment: str, rng: random.Random, ref: Reference
) -> tuple[bool, str]:
    """SIGKILL at `moment`; (killed, how)."""
    deadline = time.monotonic() + RUN_TIMEOUT
    log = ws.events_path(orch_id) if orch_id else None
    start = t_lines(log)
    needle = {"checkpoint_write": b'"type":"checkpoint_saved"', "replan": b'"mode":"replan"', "resume_start": b'"type":"resumed"'}.get(
        moment
    )
    k = rng.randint(1, max(1, ref.log_lines * 9 // 10))
    delay = rng.uniform(0.0, ref.seconds * 0.8)
    began: float | None = None
    offset = log.stat().st_size if log is not None and log.exists() else 0
    while True:
        if proc.poll() is not None:
            return False, f"{moment}: ended first"
        if log is None:
            latest = ws.latest()
            if latest is not None:
                log = ws.events_path(latest)
        if began is None and log is not None and log.exists() and log.stat().st_size > offset:
            began = time.monotonic()  # this process wrote its first line
        if moment == "delay" and began is not None and time.monotonic() - began >= delay:
            break
        if moment == "log_line" and log is not None and t_lines(log) - start >= k:
            break
        if needle is not None and log is not None and log.exists():
            with open(log, "rb") as handle:
                handle.seek(offset)
                if needle in handle.read():
                    break
        if time.monotonic() > deadline:
            break
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=RUN_TIMEOUT)
    return True, {"log_line": f"after new log line {k}", "delay": f"after {delay:.3f}s"}.get(moment, f"at {moment}")


def t_lines(path: Path | None) -> int:
    return _torture().line_count(path) if path is not None else 0


def torture_run(index: int, seed: int, base: Path, refs: dict[str, Reference], *, max_kills: int) -> RunResult:
    t = _torture()
    rng = random.Random(seed)
    workflow = WORKFLOWS[index % len(WORKFLOWS)]
    result = RunResult(index=index, seed=seed, workflow=workflow)
    started = time.monotonic()
    ws, goal = make_workspace(base, f"run{index:03d}", workflow)
    out = base / f"run{index:03d}.out"
    ref = refs[workflow]
    orch_id: str | None = None
    args: tuple[str, ...] = ("build", goal, *run_args())
    done_at_kill: dict[str, int] = {}
    """step -> lines it had when a kill found it completed."""
    try:
        for _ in range(rng.randint(1, max_kills)):
            moments = [
                m for m in MOMENTS if (m != "replan" or workflow == "plan_then_build") and (m != "resume_start" or args[0] == "resume")
            ]
            moment = rng.choice(moments)
            proc = t.spawn(ws, args, out)
            killed, how = _kill_when(proc, ws, orch_id, moment, rng, ref)
            result.plan.append(f"{args[0]}: " + ("kill -9 " if killed else "no kill, ") + how)
            orch_id = orch_id or ws.latest()
            if not killed:
                if proc.returncode != 0:
                    result.problems.append(f"{args[0]} exited {proc.returncode}; see {out}")
                    return result
                break
            result.kills += 1
            result.kill_moments[moment] += 1
            counts = Counter(sidefx(ws))
            for step in completed_steps(ws, orch_id):
                done_at_kill.setdefault(step, counts[step])
            # the killed run's agent processes die with it (leaders at once; nothing else left)
            give_up = time.monotonic() + LEADER_DEATH_SECONDS
            while live_members(ws) and time.monotonic() < give_up:
                time.sleep(0.01)
            result.orphans_after_kill += live_members(ws)
            state = fold(read_log(ws.events_path(orch_id)).events) if orch_id else None
            if state is not None and state.status == "completed":
                break
            cp = t.newest_checkpoint(ws, orch_id) if orch_id else None
            if cp is None:
                result.restarts += 1
                orch_id = None
                args = ("build", goal, *run_args())
            else:
                result.resumes += 1
                args = ("resume", cp["id"], *run_args())
        else:
            code = run_to_end(ws, args, out)
            orch_id = orch_id or ws.latest()
            result.plan.append(f"{args[0]} to the end: exit {code}")
            if code != 0:
                result.problems.append(f"final {args[0]} exited {code}; see {out}")
                return result
        assert orch_id is not None
        state = fold(read_log(ws.events_path(orch_id)).events)
        if state.status != "completed":
            code = run_to_end(ws, ("resume", t.newest_checkpoint(ws, orch_id)["id"], *run_args()), out)
            state = fold(read_log(ws.events_path(orch_id)).events)
        final = Counter(sidefx(ws))
        for step, had in done_at_kill.items():
            result.re_executed_completed_steps += max(0, final[step] - had)
        result.leftover_after_resume = live_members(ws)
        result.mismatches += t.differences(ref.view, t.comparable(ws, state))
        if sorted(final) != ref.lines:
            result.mismatches.append(f"sidefx.log steps {sorted(final)} != {ref.lines}")
    except Exception as exc:  # a harness error is a problem of this run
        result.problems.append(f"{type(exc).__name__}: {exc}")
    finally:
        result.seconds = round(time.monotonic() - started, 2)
    return result


def torture(runs: int, seed: int, *, max_kills: int = 3, jobs: int = 2, keep: Path | None = None, progress: bool = False) -> dict[str, Any]:
    started = time.monotonic()
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="studio-sidefx-", dir=keep))
    try:
        refs = {w: reference(base, w) for w in WORKFLOWS}
        master = random.Random(seed)
        seeds = [master.randrange(2**32) for _ in range(runs)]

        def one(index: int) -> RunResult:
            r = torture_run(index, seeds[index], base, refs, max_kills=max_kills)
            if progress:
                bad = r.mismatches or r.problems or r.re_executed_completed_steps or r.orphans_after_kill or r.leftover_after_resume
                print(
                    f"run {index:3d} {r.workflow:16s} {'FAIL' if bad else 'ok'} kills={r.kills} resumes={r.resumes} {r.seconds}s",
                    file=sys.stderr,
                )
            return r

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            results = list(pool.map(one, range(runs)))
    finally:
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)
    moments: Counter = Counter()
    for r in results:
        moments.update(r.kill_moments)
    summary = {
        "runs": runs,
        "seed": seed,
        "runs_per_workflow": dict(Counter(r.workflow for r in results)),
        "kills": sum(r.kills for r in results),
        "runs_killed": sum(1 for r in results if r.kills),
        "max_kills_in_a_run": max((r.kills for r in results), default=0),
        "kill_moments": dict(moments),
        "resumes": sum(r.resumes for r in results),
        "restarts": sum(r.restarts for r in results),
        "re_executed_completed_steps": sum(r.re_executed_completed_steps for r in results),
        "orphans_after_kill": sum(r.orphans_after_kill for r in results),
        "leftover_after_resume": sum(r.leftover_after_resume for r in results),
        "mismatches": sum(1 for r in results if r.mismatches),
        "problems": sum(1 for r in results if r.problems),
        "seconds": round(time.monotonic() - started, 1),
        "command": f"python scripts/torture.py --plan-builder --runs {runs} --seed {seed} --max-kills {max_kills}",
        "failures": [
            {
                k: v
                for k, v in asdict(r).items()
                if k
                in (
                    "index",
                    "seed",
                    "workflow",
                    "plan",
                    "mismatches",
                    "problems",
                    "re_executed_completed_steps",
                    "orphans_after_kill",
                    "leftover_after_resume",
                )
            }
            for r in results
            if r.mismatches or r.problems or r.re_executed_completed_steps or r.orphans_after_kill or r.leftover_after_resume
        ],
    }
    summary["ok"] = not summary["failures"]
    return summary
