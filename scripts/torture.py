#!/usr/bin/env python3
"""Kill -9 torture test: `python scripts/torture.py --runs 30 --seed 1 [--json]`.

What one run does
-----------------
1. Copies the bundled example workspace (`.studio-example/`: a Planner question, a transient
   failure and retry, a risky step, a design flaw and replan, a blocker escalation, checkpoints
   after agents / before a risky step / every 3 steps) into a fresh temporary project.
2. Starts `studio-tui build GOAL --headless --on-escalation retry --speed S` (CI=true, stdin from
   /dev/null) and SIGKILLs it at a seeded random moment: either after the k-th new line of its
   `events.jsonl` appears (the file is polled) or after a random delay within the reference run's
   length. The kind of moment, k and the delay all come from the seeded RNG.
3. After every kill it checks the files a crash may have left (see "Invariants"), then resumes the
   newest checkpoint listed by `studio-tui checkpoints --json` and kills that too, a seeded number
   of times (1..--max-kills kills per run), so resume-of-resume is exercised. When a kill lands
   before the first checkpoint exists there is nothing to resume: the run starts over with `build`
   (counted as `restarts`). Finally it resumes without killing and expects exit 0.
4. Compares the final state (folded from the event log, which is the truth; state.yaml must equal
   the log folded to its own seq, and may lag the log after a kill) with one uninterrupted
   reference run at the same speed.

Optionally (`--tear-rate`, default 0.2) a kill is followed by a *simulated* torn write: the last
line of the log is cut short at a random byte, as a power loss before the page cache reached the
disk would leave it. Real kill -9 does not tear lines here (each event is one write(2) of a whole
line, which a signal cannot split), so torn tails from real kills are counted apart
(`torn_tails`, `bytes_lost`) from simulated ones (`simulated_tears`, `simulated_bytes_lost`).

Invariants checked after every kill
-----------------------------------
- `state.yaml` (if written yet) parses: yaml.safe_load + OrchestrationState.from_dict, and its seq
  is never ahead of the log's last event (the log is appended before state.yaml is written).
- every checkpoint file parses (Workspace.load_checkpoint) and its state equals the log folded up
  to the checkpoint's own event (a checkpoint is a true snapshot of the log). A kill between a
  checkpoint's event and its file leaves the event without a file: `checkpoints` does not list
  it, and the resume starts from the one before.
- the event log has at most one NEW bad line since the last kill, and only as a torn (unterminated)
  last line, which read_log skips and reports; bad lines from earlier kills stay single lines (the
  writer closes a torn line off with a newline on reopen). Bytes lost = size of that torn tail.

What "the same final state" means
---------------------------------
The issue asks that every run ends "in the same final state (agents, outputs, checkpoints) as an
uninterrupted run". Work done between the resumed checkpoint and a kill is lost and done again, so
a few things legitimately differ and are normalised or left out; everything else must be equal:

Compared exactly (after normalisation):
- status (`completed`), summary, goal, workflow, the agent sequence (keys and statuses);
- per agent: key, role, task_id, status, output, input (its handoff context), steps completed and
  skipped, retries and replans used;
- failures (agent, step, category, action, message) in order: a failure lost with the killed
  segment happens again when its step re-runs, because scripted outcomes are indexed by the
  failures recorded in the state;
- handoffs (from, to, context) in order;
- checkpoint names, in order, in the "milestone view": progress checkpoints (`reason: progress`,
  every N steps) left out, and a risky-step checkpoint immediately repeated collapsed to one
  (resuming from `before_builder_step_2` re-enters step 2, which saves that checkpoint again);
  an `interrupted` checkpoint (only Ctrl-C/SIGTERM save one, never kill -9) is left out too;
- the plan files under tasks/ and backlog.yaml.

Normalised:
- absolute paths of the workspace/project (`plan_path` in outputs) -> `<ws>` / `<project>`: each
  run has its own temp folder;
- plan ids `<id>_r<N>` -> `<id>_r#`: a replan names the plan after the Planner's attempt number,
  and an attempt interrupted by a kill still counts as an attempt.

Left out:
- attempts (a killed attempt counts), decisions (a Planner re-run after a resume asks its question
  again), budget figures (tokens of the lost segment, optimisation passes), resumed_from, seq, ts;
- progress checkpoints (reported in a run's `notes`): the "every N steps" counter lives in memory (orchestrator `_Slot`) and
  starts from 0 after a resume, so they can land on other steps than in an uninterrupted run
  (`progress_checkpoint_drift` counts runs where they did). `--strict-checkpoints` compares them
  too (full name list, risky repeats collapsed); see the report to the lead.

Deterministic variant: `--every-event [--stride N]` runs in process (scripted agents at speed 0)
and "kills" the run right after each event in turn (a subscriber raises a BaseException, so only
the orchestrator's `finally` runs), then checks the same invariants, resumes the newest checkpoint
and compares the same way. It reaches every event boundary, which random kills only sample.

Exit status: 0 when every run matched and every invariant held, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO_ROOT))

from studio_tui.core import events as ev  # noqa: E402
from studio_tui.core.errors import InputError  # noqa: E402
from studio_tui.core.example import example_source  # noqa: E402
from studio_tui.core.reducer import fold  # noqa: E402
from studio_tui.core.state import OrchestrationState  # noqa: E402
from studio_tui.core.store import Workspace, read_log  # noqa: E402

GOAL = "Add user authentication with OAuth"
DEFAULT_SPEED = 10.0
"""Scripted agents' speed factor: the example scenario's ~20 s of durations in ~2 s."""
RUN_TIMEOUT = 120.0
"""Deadline for any one studio-tui process (a hang is a failure, not a wait)."""
POLL_SECONDS = 0.001
"""Interval between looks at the event log while waiting for the k-th line."""

_PLAN_SUFFIX = re.compile(r"_r\d+\b")


# ── small helpers ────────────────────────────────────────────────────────


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(CI="true", PYTHONUNBUFFERED="1", NO_COLOR="1", COLUMNS="160")
    env.pop("FORCE_COLOR", None)
    return env


def studio(ws: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "studio_tui", "--workspace", str(ws), *args]


def run_args(speed: float) -> tuple[str, ...]:
    return ("--headless", "--on-escalation", "retry", "--speed", f"{speed:g}")


def make_project(base: Path, name: str) -> Workspace:
    """A fresh copy of the example workspace at base/name/.studio."""
    target = base / name / ".studio"
    shutil.copytree(example_source(), target, ignore=shutil.ignore_patterns("lock", "sessions", "orchestration"))
    return Workspace(target)


def spawn(ws: Workspace, args: tuple[str, ...], out_path: Path) -> subprocess.Popen[bytes]:
    with open(out_path, "ab") as out:
        return subprocess.Popen(
            studio(ws.root, *args),
            cwd=ws.project_root,
            env=cli_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def line_count(path: Path) -> int:
    try:
        with open(path, "rb") as handle:
            return handle.read().count(b"\n")
    except FileNotFoundError:
        return 0


def orch_ids(ws: Workspace) -> set[str]:
    return set(ws.orchestrations())


def newest_checkpoint(ws: Workspace, orch_id: str | None) -> dict[str, Any] | None:
    """The newest checkpoint of `orch_id` as `studio-tui checkpoints --json` lists it (newest first)."""
    done = subprocess.run(
        studio(ws.root, "checkpoints", "--json"),
        cwd=ws.project_root,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"checkpoints --json exited {done.returncode}: {done.stderr.strip()}")
    listed = json.loads(done.stdout or "[]")
    if done.stderr.strip():
        raise RuntimeError(f"checkpoints --json complained: {done.stderr.strip()}")
    mine = [c for c in listed if orch_id is None or c["orch_id"] == orch_id]
    return mine[0] if mine else None


def final_state(ws: Workspace, orch_id: str) -> OrchestrationState:
    read = read_log(ws.events_path(orch_id))
    return fold(read.events)


# ── invariants after a kill ──────────────────────────────────────────────


@dataclass
class KillCheck:
    problems: list[str] = field(default_factory=list)
    torn_bytes: int | None = None
    """Size of a torn last line, when the log ends with one."""


def torn_tail_size(path: Path) -> int:
    """Bytes after the last newline of `path` (0 when it ends with a newline)."""
    data = path.read_bytes()
    return len(data) - (data.rfind(b"\n") + 1)


def check_after_kill(ws: Workspace, known_bad: dict[str, set[int]]) -> KillCheck:
    """Everything a crash may leave must still load; see the module docstring."""
    check = KillCheck()
    for orch_id in ws.orchestrations():
        log_path = ws.events_path(orch_id)
        events = []
        if log_path.exists():
            read = read_log(log_path)
            events = read.events
            bad = {b.line: b for b in read.bad_lines}
            before = known_bad.setdefault(orch_id, set())
            missing = before - set(bad)
            if missing:
                check.problems.append(f"{orch_id}: earlier bad lines {sorted(missing)} changed")
            new = sorted(set(bad) - before)
            total_lines = line_count(log_path) + (1 if torn_tail_size(log_path) else 0)
            if len(new) > 1:
                check.problems.append(f"{orch_id}: {len(new)} new bad lines after one kill: {[bad[n].reason for n in new]}")
            for number in new:
                if number != total_lines or not bad[number].reason.startswith("torn"):
                    check.problems.append(f"{orch_id}: bad line {number} of {total_lines} is not a torn last line: {bad[number].reason}")
            tail = torn_tail_size(log_path)
            if tail:
                if not read.torn_tail:
                    check.problems.append(f"{orch_id}: log ends without a newline but read_log reports no torn tail")
                if total_lines in new:  # torn by this kill (not one seen, or simulated, before)
                    check.torn_bytes = (check.torn_bytes or 0) + tail
            before.update(new)
        last_seq = events[-1].seq if events else 0
        # a torn tail simulated after an earlier kill, not yet closed off by a writer: state.yaml may
        # hold the event that was cut away, as it would after a real power loss
        simulated_tail = log_path.exists() and torn_tail_size(log_path) > 0 and check.torn_bytes is None
        state_path = ws.state_path(orch_id)
        if state_path.exists():
            try:
                data = yaml.safe_load(state_path.read_text(encoding="utf-8"))
                state = OrchestrationState.from_dict(data)
            except Exception as exc:  # any failure to load is the finding
                check.problems.append(f"{orch_id}: state.yaml does not load: {type(exc).__name__}: {exc}")
            else:
                if state.seq > last_seq and not simulated_tail:
                    check.problems.append(f"{orch_id}: state.yaml seq {state.seq} is ahead of the log ({last_seq})")
        folder = ws.checkpoints_dir(orch_id)
        for path in sorted(folder.glob("cp_*.yaml")) if folder.is_dir() else []:
            try:
                record = ws.load_checkpoint(path)
            except InputError as exc:
                check.problems.append(f"{path.name}: checkpoint does not load: {exc}")
                continue
            # the log folded up to this checkpoint's own event (found by position: after a torn write
            # a seq can be used again, and an id whose file was never written can be given out again)
            at = [i for i, e in enumerate(events) if getattr(e, "checkpoint_id", None) == record.meta.id and e.seq == record.meta.seq]
            if not at:
                logged = [int(e.checkpoint_id[3:]) for e in events if isinstance(e, ev.CheckpointSaved)]
                if int(record.meta.id[3:]) > max(logged, default=0):
                    continue  # killed after the file was durable, before its event: complete, resumable
                if not known_bad.get(orch_id):
                    check.problems.append(f"{path.name}: checkpoint file without its checkpoint_saved event in the log")
                continue
            upto = fold(events[: at[-1] + 1])
            upto.checkpoints = []  # a checkpoint file leaves out the list of earlier checkpoints
            if upto.to_dict() != record.state.to_dict():
                check.problems.append(f"{path.name}: checkpoint state differs from the log folded to its event (seq {record.meta.seq})")
    return check


def simulate_tear(ws: Workspace, orch_id: str, rng: random.Random) -> int:
    """Cut the log's last line short at a random byte (a write that never reached the disk whole).

    Returns the bytes a reader now skips (the torn remainder), or 0 when nothing was torn."""
    path = ws.events_path(orch_id)
    data = path.read_bytes()
    if not data.endswith(b"\n") or data.count(b"\n") < 2:
        return 0
    start = data.rfind(b"\n", 0, len(data) - 1) + 1
    line_len = len(data) - start  # including its newline
    keep = rng.randrange(1, line_len - 1)
    with open(path, "r+b") as handle:
        handle.truncate(start + keep)
    return keep


# ── comparison ───────────────────────────────────────────────────────────


def _normalise(value: Any, roots: dict[str, str]) -> Any:
    if isinstance(value, str):
        for path, label in roots.items():
            value = value.replace(path, label)
        return _PLAN_SUFFIX.sub("_r#", value)
    if isinstance(value, dict):
        return {k: _normalise(v, roots) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v, roots) for v in value]
    return value


def _roots(ws: Workspace) -> dict[str, str]:
    return {str(ws.root): "<ws>", str(ws.project_root): "<project>"}


def milestone_names(state: OrchestrationState, *, strict: bool = False) -> list[str]:
    """Checkpoint names in order: progress ones left out (unless strict), a repeated risky one collapsed."""
    names: list[tuple[str, str]] = []
    for cp in state.checkpoints:
        if cp.reason == "interrupt":
            continue  # only a signal saves one (never kill -9): the extra checkpoint an interruption adds
        if cp.reason == "progress" and not strict:
            continue
        if cp.reason == "risky_step" and names and names[-1] == (cp.name, cp.reason):
            continue
        names.append((cp.name, cp.reason))
    return [name for name, _ in names]


def progress_names(state: OrchestrationState) -> list[str]:
    return [cp.name for cp in state.checkpoints if cp.reason == "progress"]


def comparable(ws: Workspace, state: OrchestrationState, *, strict: bool = False) -> dict[str, Any]:
    """The parts of a final state that must match an uninterrupted run (normalised)."""
    roots = _roots(ws)
    files = {}
    for path in sorted(ws.tasks_dir.glob("*/plan.json")):
        files[str(path.relative_to(ws.root))] = json.loads(path.read_text(encoding="utf-8"))
    files["backlog.yaml"] = ws.backlog_path.read_text(encoding="utf-8") if ws.backlog_path.exists() else None
    view = {
        "status": state.status,
        "summary": state.summary,
        "goal": state.goal,
        "workflow": state.routing.workflow,
        "sequence": [(e.key, e.status) for e in state.routing.agent_sequence],
        "agents": [
            {
                "agent": a.agent,
                "role": a.role,
                "task_id": a.task_id,
                "status": a.status,
                "output": a.output,
                "input": a.input,
                "steps_completed": sorted(a.steps_completed),
                "steps_skipped": sorted(a.steps_skipped),
                "retries": a.retries,
                "replans": a.replans,
            }
            for a in state.agent_states
        ],
        "failures": [(f.agent, f.step, f.category, f.action, f.message) for f in state.failures],
        "handoffs": [(h.from_agent, h.to_agent, h.context) for h in state.handoffs],
        "checkpoints": milestone_names(state, strict=strict),
        "files": files,
    }
    return _normalise(json.loads(json.dumps(view)), roots)


def differences(expected: Any, got: Any, where: str = "") -> list[str]:
    """Human-readable paths where two JSON-like values differ."""
    if isinstance(expected, dict) and isinstance(got, dict):
        out = []
        for key in sorted(set(expected) | set(got), key=str):
            if key not in got:
                out.append(f"{where}.{key}: missing")
            elif key not in expected:
                out.append(f"{where}.{key}: unexpected {got[key]!r}"[:300])
            else:
                out += differences(expected[key], got[key], f"{where}.{key}")
        return out
    if isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        out = []
        for index, (a, b) in enumerate(zip(expected, got, strict=False)):
            out += differences(a, b, f"{where}[{index}]")
        return out
    if expected != got:
        return [f"{where or 'value'}: expected {expected!r}, got {got!r}"[:600]]
    return []


# ── runs ─────────────────────────────────────────────────────────────────


@dataclass
class Reference:
    view: dict[str, Any]
    strict_view: dict[str, Any]
    progress: list[str]
    seconds: float
    lines: int
    checkpoints: list[str]


def reference_run(base: Path, speed: float) -> Reference:
    ws = make_project(base, "reference")
    started = time.monotonic()
    proc = spawn(ws, ("build", GOAL, *run_args(speed)), base / "reference.out")
    code = proc.wait(timeout=RUN_TIMEOUT)
    seconds = time.monotonic() - started
    if code != 0:
        raise RuntimeError(f"the uninterrupted reference run exited {code}; see {base / 'reference.out'}")
    orch_id = ws.latest()
    assert orch_id is not None
    state = final_state(ws, orch_id)
    return Reference(
        view=comparable(ws, state),
        strict_view=comparable(ws, state, strict=True),
        progress=progress_names(state),
        seconds=seconds,
        lines=line_count(ws.events_path(orch_id)),
        checkpoints=[c.name for c in state.checkpoints],
    )


@dataclass
class RunResult:
    index: int
    seed: int
    kills: int = 0
    resumes: int = 0
    restarts: int = 0
    finished_before_kill: int = 0
    torn_tails: int = 0
    bytes_lost: int = 0
    simulated_tears: int = 0
    simulated_bytes_lost: int = 0
    seconds: float = 0.0
    mismatches: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    progress_drift: bool = False
    plan: list[str] = field(default_factory=list)
    """What the run did, in order (kill moments, resumes): enough to reproduce a failure by hand."""
    folder: str = ""


def wait_and_kill(
    proc: subprocess.Popen[bytes], ws: Workspace, orch_id: str | None, before: set[str], rng: random.Random, ref: Reference
) -> tuple[bool, str]:
    """SIGKILL `proc` at a seeded moment; (killed, how). Not killed when it ended first."""
    deadline = time.monotonic() + RUN_TIMEOUT
    if rng.random() < 0.5:
        delay = rng.uniform(0.0, ref.seconds)
        try:
            proc.wait(timeout=delay)
            return False, f"ended within {delay:.3f}s"
        except subprocess.TimeoutExpired:
            pass
        how = f"after {delay:.3f}s"
    else:
        k = rng.randint(1, ref.lines)
        log: Path | None = ws.events_path(orch_id) if orch_id else None
        start = line_count(log) if log else 0
        how = f"after new log line {k}"
        while True:
            if proc.poll() is not None:
                return False, f"ended before new log line {k}"
            if log is None:
                new = orch_ids(ws) - before
                if new:
                    log = ws.events_path(sorted(new)[-1])
            if log is not None and line_count(log) - start >= k:
                break
            if time.monotonic() > deadline:
                break
            time.sleep(POLL_SECONDS)
    if proc.poll() is not None:
        return False, how + " (ended first)"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=RUN_TIMEOUT)
    return True, how


def torture_run(
    index: int, run_seed: int, base: Path, ref: Reference, *, speed: float, max_kills: int, tear_rate: float, strict: bool
) -> RunResult:
    rng = random.Random(run_seed)
    result = RunResult(index=index, seed=run_seed)
    started = time.monotonic()
    ws = make_project(base, f"run{index:03d}")
    result.folder = str(ws.project_root)
    out = base / f"run{index:03d}.out"
    known_bad: dict[str, set[int]] = {}
    planned_kills = rng.randint(1, max_kills)
    orch_id: str | None = None
    args: tuple[str, ...] = ("build", GOAL, *run_args(speed))
    finished = False
    try:
        for _ in range(planned_kills):
            before = orch_ids(ws)
            proc = spawn(ws, args, out)
            result.plan.append(" ".join(args[:2]))
            killed, how = wait_and_kill(proc, ws, orch_id, before, rng, ref)
            result.plan.append(("kill -9 " if killed else "no kill: ") + how)
            if orch_id is None:
                new = orch_ids(ws) - before
                orch_id = sorted(new)[-1] if new else None
            if not killed:
                if proc.returncode != 0:
                    result.problems.append(f"{args[0]} exited {proc.returncode} on its own; see {out}")
                    return result
                result.finished_before_kill += 1
                finished = True
                break
            result.kills += 1
            check = check_after_kill(ws, known_bad)
            result.problems += [f"after kill {result.kills}: {p}" for p in check.problems]
            if check.torn_bytes:
                result.torn_tails += 1
                result.bytes_lost += check.torn_bytes
            elif orch_id and rng.random() < tear_rate:
                lost = simulate_tear(ws, orch_id, rng)
                if lost:
                    result.simulated_tears += 1
                    result.simulated_bytes_lost += lost
                    known_bad.setdefault(orch_id, set()).add(line_count(ws.events_path(orch_id)) + 1)
                    result.plan.append(f"simulated torn write: {lost} bytes of the last line kept")
            if orch_id is not None and final_state(ws, orch_id).status == "completed":
                finished = True  # killed after the final event: nothing left to resume
                break
            cp = newest_checkpoint(ws, orch_id) if orch_id else None
            if cp is None:
                # killed before the first checkpoint: nothing to resume, start over
                result.restarts += 1
                orch_id = None
                args = ("build", GOAL, *run_args(speed))
            else:
                result.resumes += 1
                args = ("resume", cp["id"], *run_args(speed))
                result.plan.append(f"newest checkpoint: {cp['id']} {cp['name']}")
        if not finished:
            before = orch_ids(ws)
            proc = spawn(ws, args, out)
            result.plan.append(" ".join(args[:2]) + " (to the end)")
            code = proc.wait(timeout=RUN_TIMEOUT)
            if orch_id is None:
                new = orch_ids(ws) - before
                orch_id = sorted(new)[-1] if new else None
            if code != 0:
                result.problems.append(f"final {args[0]} exited {code}; see {out}")
                return result
        assert orch_id is not None
        state = final_state(ws, orch_id)
        read = read_log(ws.events_path(orch_id))
        # state.yaml is a snapshot that may lag the log by the events written just before a kill
        # (the log is the truth); it must be exactly the log folded up to its own seq.
        on_disk = ws.load_state(orch_id)
        folded = fold([e for e in read.events if e.seq <= on_disk.seq])
        if ws.state_path(orch_id).read_text(encoding="utf-8") != folded.to_yaml():
            result.problems.append(f"final state.yaml (seq {on_disk.seq}) differs from the log folded to that seq")
        if len(read.bad_lines) > result.torn_tails + result.simulated_tears:
            result.problems.append(
                f"{len(read.bad_lines)} bad lines in the final log for {result.torn_tails + result.simulated_tears} torn writes"
            )
        view = comparable(ws, state)
        result.mismatches += differences(ref.view, view)
        if progress_names(state) != ref.progress:
            result.progress_drift = True
            result.notes.append(f"progress checkpoints {progress_names(state)} (uninterrupted: {ref.progress})")
            if strict:
                result.mismatches += differences(
                    ref.strict_view["checkpoints"], comparable(ws, state, strict=True)["checkpoints"], ".checkpoints(strict)"
                )
    except Exception as exc:  # a harness error is reported as a problem of this run
        result.problems.append(f"{type(exc).__name__}: {exc}")
    finally:
        result.seconds = round(time.monotonic() - started, 2)
    return result


@dataclass
class Summary:
    runs: int
    seed: int
    speed: float
    kills: int
    resumes: int
    restarts: int
    finished_before_kill: int
    mismatches: int
    problems: int
    torn_tails: int
    bytes_lost: int
    simulated_tears: int
    simulated_bytes_lost: int
    progress_checkpoint_drift: int
    max_seconds: float
    total_seconds: float
    reference_seconds: float
    command: str
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.mismatches == 0 and self.problems == 0


def torture(
    runs: int,
    seed: int,
    *,
    speed: float = DEFAULT_SPEED,
    max_kills: int = 3,
    jobs: int = 2,
    tear_rate: float = 0.2,
    strict: bool = False,
    keep: Path | None = None,
    progress: bool = False,
) -> Summary:
    """Run the whole torture test; the summary says what happened (see the module docstring)."""
    started = time.monotonic()
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="studio-torture-", dir=keep))
    try:
        ref = reference_run(base, speed)
        master = random.Random(seed)
        seeds = [master.randrange(2**32) for _ in range(runs)]

        def one(index: int) -> RunResult:
            result = torture_run(index, seeds[index], base, ref, speed=speed, max_kills=max_kills, tear_rate=tear_rate, strict=strict)
            if progress:
                mark = "ok" if not (result.mismatches or result.problems) else "FAIL"
                print(
                    f"run {index:3d}: {mark} kills={result.kills} resumes={result.resumes} restarts={result.restarts} {result.seconds}s",
                    file=sys.stderr,
                )
            return result

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            results = list(pool.map(one, range(runs)))
    finally:
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)
    summary = Summary(
        runs=runs,
        seed=seed,
        speed=speed,
        kills=sum(r.kills for r in results),
        resumes=sum(r.resumes for r in results),
        restarts=sum(r.restarts for r in results),
        finished_before_kill=sum(r.finished_before_kill for r in results),
        mismatches=sum(1 for r in results if r.mismatches),
        problems=sum(1 for r in results if r.problems),
        torn_tails=sum(r.torn_tails for r in results),
        bytes_lost=sum(r.bytes_lost for r in results),
        simulated_tears=sum(r.simulated_tears for r in results),
        simulated_bytes_lost=sum(r.simulated_bytes_lost for r in results),
        progress_checkpoint_drift=sum(1 for r in results if r.progress_drift),
        max_seconds=max((r.seconds for r in results), default=0.0),
        total_seconds=round(time.monotonic() - started, 1),
        reference_seconds=round(ref.seconds, 2),
        command=f"python scripts/torture.py --runs {runs} --seed {seed}",
    )
    for r in results:
        if r.mismatches or r.problems:
            summary.failures.append(
                {k: v for k, v in asdict(r).items() if k in ("index", "seed", "plan", "mismatches", "problems", "notes", "folder")}
            )
    return summary


# ── in process: a kill after every event ─────────────────────────────────


class Killed(BaseException):
    """kill -9, simulated in process: raised by a subscriber right after the k-th event was written.

    A BaseException, so the orchestrator's own error handling (which turns an Exception into a
    'crashed' checkpoint) does not see it; only its `finally` runs (closing the log), and nothing
    that follows the event in the same call happens (a checkpoint's file after its event, say)."""


async def _no_backoff(delay: float) -> None:
    """Retries without waiting: the in-process sweep measures states, not time."""


KillWhen = Any
"""An event count (kill right after the k-th event this process writes), or a predicate on
(event, count) that says when."""


def in_process_orchestrator(ws: Workspace, *, kill_after: KillWhen = None):
    """An orchestrator on `ws` (scripted agents at speed 0, escalations answered retry) that 'dies'
    right after the event `kill_after` picks, if given."""
    from studio_tui.core.agents import agent_factory
    from studio_tui.core.decider import PolicyDecider
    from studio_tui.core.orchestrator import Orchestrator

    config = ws.config()
    orchestrator = Orchestrator(ws, config, PolicyDecider("retry"), agent_factory(ws, config, speed=0), sleep=_no_backoff)
    if kill_after is not None:
        when = kill_after if callable(kill_after) else (lambda event, count: count == kill_after)
        seen = [0]

        def kill(event: Any, state: Any) -> None:
            seen[0] += 1
            if when(event, seen[0]):
                raise Killed(seen[0])

        orchestrator.subscribe(kill)
    return orchestrator


def newest_checkpoint_record(ws: Workspace, orch_id: str):
    """The newest loadable checkpoint of `orch_id`, in the order `studio-tui checkpoints` lists them."""
    records = []
    for _, path in ws.checkpoint_paths():
        if path.parent.parent.name == orch_id:
            try:
                records.append(ws.load_checkpoint(path))
            except InputError:
                continue
    records.sort(key=lambda r: (r.meta.ts, r.meta.id), reverse=True)
    return records[0] if records else None


@dataclass
class SweepPoint:
    kill_after: int
    resumed_from: str | None
    mismatches: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


async def kill_at_event_and_resume(
    base: Path, k: KillWhen, ref_view: dict[str, Any], *, goal: str = GOAL, name: str | None = None
) -> SweepPoint:
    """Build, 'kill -9' right after event k (a count or a predicate), check the files, resume the
    newest checkpoint (or start over when there is none), and compare with `ref_view`."""
    ws = make_project(base, name or f"k{k:04d}")
    point = SweepPoint(kill_after=k if isinstance(k, int) else 0, resumed_from=None)
    try:
        state = await in_process_orchestrator(ws, kill_after=k).build(goal)
    except Killed as killed:
        point.kill_after = killed.args[0]
    else:  # fewer than k events: the run finished first
        point.problems += differences(ref_view, comparable(ws, state))
        return point
    point.problems += check_after_kill(ws, {}).problems
    orch_id = ws.latest()
    record = newest_checkpoint_record(ws, orch_id) if orch_id else None
    if record is None:
        state = await in_process_orchestrator(ws).build(goal)
    else:
        point.resumed_from = record.meta.name
        state = await in_process_orchestrator(ws).resume(record)
    point.mismatches += differences(ref_view, comparable(ws, state))
    return point


async def sweep(base: Path, points: list[int] | None = None, *, goal: str = GOAL) -> tuple[int, list[SweepPoint]]:
    """Kill after each of `points` (default: every event of an uninterrupted run); (events in that run, results)."""
    ref_ws = make_project(base, "reference")
    ref_state = await in_process_orchestrator(ref_ws).build(goal)
    ref_view = comparable(ref_ws, ref_state)
    total = len(read_log(ref_ws.events_path(ref_state.id)).events)
    results = [await kill_at_event_and_resume(base, k, ref_view, goal=goal) for k in (points or range(1, total + 1))]
    return total, results


def sweep_main(stride: int, keep: Path | None, as_json: bool) -> int:
    import asyncio

    started = time.monotonic()
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="studio-sweep-", dir=keep))
    try:
        total, _ = asyncio.run(sweep(base, [1]))
        points = list(range(1, total + 1, max(1, stride)))
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir()
        _, results = asyncio.run(sweep(base, points))
    finally:
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)
    bad = [r for r in results if r.mismatches or r.problems]
    payload = {
        "events_in_a_run": total,
        "kill_points": len(results),
        "mismatches": sum(1 for r in results if r.mismatches),
        "problems": sum(1 for r in results if r.problems),
        "seconds": round(time.monotonic() - started, 1),
        "command": f"python scripts/torture.py --every-event --stride {stride}",
        "failures": [asdict(r) for r in bad],
    }
    if not as_json:
        for r in bad:
            print(f"kill after event {r.kill_after} (resumed from {r.resumed_from}): {(r.mismatches + r.problems)[:2]}", file=sys.stderr)
    print(json.dumps(payload, indent=None if as_json else 2))
    return 0 if not bad else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--speed", type=float, default=DEFAULT_SPEED, help="scripted agents' speed factor")
    parser.add_argument("--max-kills", type=int, default=3, help="kills per run: 1..N, seeded")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once")
    parser.add_argument("--tear-rate", type=float, default=0.2, help="share of kills followed by a simulated torn write")
    parser.add_argument("--strict-checkpoints", action="store_true", help="progress checkpoints must match too")
    parser.add_argument("--keep", type=Path, default=None, help="keep the workspaces under this folder")
    parser.add_argument("--json", action="store_true", help="print only the JSON summary")
    parser.add_argument(
        "--every-event", action="store_true", help="instead: in process, kill right after each event of the run in turn (deterministic)"
    )
    parser.add_argument("--stride", type=int, default=1, help="with --every-event: every Nth event only")
    parser.add_argument(
        "--plan-builder",
        action="store_true",
        help="instead: the four workflows with the plan builder running real side-effecting commands "
        "(scripts/torture_sidefx.py): re-executed completed steps, orphans, final states",
    )
    args = parser.parse_args(argv)
    if args.every_event:
        return sweep_main(args.stride, args.keep, args.json)
    if args.plan_builder:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import torture_sidefx

        result = torture_sidefx.torture(
            args.runs, args.seed, max_kills=args.max_kills, jobs=args.jobs, keep=args.keep, progress=not args.json
        )
        print(json.dumps(result, indent=None if args.json else 2))
        return 0 if result["ok"] else 1
    summary = torture(
        args.runs,
        args.seed,
        speed=args.speed,
        max_kills=args.max_kills,
        jobs=args.jobs,
        tear_rate=args.tear_rate,
        strict=args.strict_checkpoints,
        keep=args.keep,
        progress=not args.json,
    )
    payload = asdict(summary)
    if args.strict_checkpoints:
        payload["command"] += " --strict-checkpoints"
    print(json.dumps(payload, indent=None if args.json else 2))
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
