"""Crashes: kill -9 at any moment, Ctrl-C and SIGTERM (the fast CI subset of scripts/torture.py).

The full run is `python scripts/torture.py --runs 30 --seed 1`; its docstring says what "the same
final state" means and why. Here:
- a few seeded kill -9 runs of the real CLI (files always load, every run completes, the final
  state is the uninterrupted one);
- in process, a "kill" right after chosen events (deterministic), including the ones that show
  the bugs the random runs hit now and then;
- SIGTERM and SIGINT: exit 130, an `interrupted` checkpoint, and a resume that ends where an
  uninterrupted run ends.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from studio_tui.core import events as ev
from studio_tui.core.reducer import fold
from studio_tui.core.state import OrchestrationState
from studio_tui.core.store import read_log

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("studio_torture", REPO / "scripts" / "torture.py")
torture = importlib.util.module_from_spec(_spec)
sys.modules["studio_torture"] = torture
_spec.loader.exec_module(torture)

DEADLINE_S = 60.0


# ── the fast subset of the kill -9 script ───────────────────────────────


@pytest.fixture(scope="module")
def fast_subset():
    return torture.torture(4, 1, speed=10.0, max_kills=2, jobs=2, tear_rate=0.5)


def test_fast_subset_every_kill_leaves_loadable_files_and_every_run_completes(fast_subset):
    summary = fast_subset
    problems = [(f["index"], f["problems"], f["plan"]) for f in summary.failures if f["problems"]]
    assert problems == []
    assert summary.runs == 4
    assert summary.kills + summary.finished_before_kill >= 4
    assert summary.kills >= 2
    assert summary.torn_tails == summary.bytes_lost == 0  # kill -9 never tears a line: one write(2) per event


def test_fast_subset_ends_in_the_uninterrupted_final_state(fast_subset):
    """Strict about everything but one known bug (test_resume_from_planner_complete_hands_the_plan_to_the_builder):
    a run that differs must have resumed from a `planner_complete` checkpoint, the bug's window. Once it
    is fixed, no run differs at all."""
    for failure in fast_subset.failures:
        if not failure["mismatches"]:
            continue
        resumed = [step for step in failure["plan"] if step.startswith("newest checkpoint")]
        assert any(step.endswith("planner_complete") for step in resumed), (failure["mismatches"], failure["plan"])


# ── in process: a kill right after a chosen event ───────────────────────


def after(event_type: str, **fields):
    """Kill right after the first event of `event_type` whose fields match."""

    def when(event, count):
        return event.type == event_type and all(getattr(event, k, None) == v for k, v in fields.items())

    return when


def after_nth(n: int, event_type: str, **fields):
    """Kill right after the n-th such event."""
    seen = []

    def when(event, count):
        if after(event_type, **fields)(event, count):
            seen.append(count)
        return len(seen) == n and seen[-1] == count

    return when


def next_event_after(event_type: str, nth: int = 1, **fields):
    """Kill right after the event that follows the n-th such one (so its own work, e.g. a checkpoint file, is done)."""
    seen = []

    def when(event, count):
        if seen and len(seen) == nth and count == seen[-1] + 1:
            return True
        if after(event_type, **fields)(event, count):
            seen.append(count)
        return False

    return when


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    base = tmp_path_factory.mktemp("reference")
    ws = torture.make_project(base, "reference")
    state = asyncio.run(torture.in_process_orchestrator(ws).build(torture.GOAL))
    assert state.status == "completed"
    return ws, state, torture.comparable(ws, state)


KILL_POINTS = {
    "after the goal is logged (no checkpoint yet: start over)": after("orchestration_started"),
    "after the planner's question is answered": after("decision_answered"),
    "after the first checkpoint is written": next_event_after("checkpoint_saved", name="planner_step_3"),
    "between a checkpoint's event and its file": after("checkpoint_saved", name="builder_step_6"),
    "after a risky step's checkpoint (the step runs again)": next_event_after("checkpoint_saved", name="before_builder_step_2"),
    "after a design flaw, before the replan": after("recovery_decided", action="replan"),
    "during the replan": after_nth(2, "agent_started", agent="planner"),
    "after a progress checkpoint": next_event_after("checkpoint_saved", name="builder_step_3"),
    "while an escalation waits": after("decision_requested", kind="escalation"),
    "after the builder's last checkpoint": next_event_after("checkpoint_saved", name="builder_complete"),
    "after learnings are captured": after("learning_captured"),
}


@pytest.mark.parametrize("point", sorted(KILL_POINTS))
async def test_a_kill_after_this_event_resumes_to_the_same_final_state(tmp_path, reference, point):
    _, _, ref_view = reference
    result = await torture.kill_at_event_and_resume(tmp_path, KILL_POINTS[point], ref_view, name="run")
    assert result.kill_after > 0, "the kill point was never reached"
    assert result.problems == []
    assert result.mismatches == []


@pytest.mark.parametrize("name", ["planner_complete", "planner_replan_complete"], ids=["first-plan", "replan"])
async def test_resume_from_planner_complete_hands_the_plan_to_the_builder(tmp_path, reference, name):
    _, _, ref_view = reference
    # killed right after the checkpoint file is written, i.e. at the next event (the handoff)
    result = await torture.kill_at_event_and_resume(tmp_path, next_event_after("checkpoint_saved", name=name), ref_view, name="run")
    assert result.resumed_from == name
    assert result.mismatches == []


async def test_resume_from_architect_complete_still_builds_every_task(tmp_path):
    goal = "Launch the identity platform"  # decompose_first
    ref_ws = torture.make_project(tmp_path, "reference")
    ref = await torture.in_process_orchestrator(ref_ws).build(goal)
    assert [a.agent for a in ref.agent_states] == ["architect", "planner:T1", "builder:T1", "planner:T2", "builder:T2"]
    result = await torture.kill_at_event_and_resume(
        tmp_path,
        next_event_after("checkpoint_saved", name="architect_complete"),
        torture.comparable(ref_ws, ref),
        goal=goal,
        name="run",
    )
    assert result.resumed_from == "architect_complete"
    assert result.mismatches == []


async def test_progress_checkpoints_after_a_resume_land_on_the_same_steps(tmp_path, reference):
    _, ref_state, _ = reference
    ws = torture.make_project(tmp_path, "run")
    with pytest.raises(torture.Killed):
        await torture.in_process_orchestrator(ws, kill_after=next_event_after("checkpoint_saved", name="before_builder_step_2")).build(
            torture.GOAL
        )
    record = torture.newest_checkpoint_record(ws, ws.latest())
    assert record.meta.name == "before_builder_step_2"
    state = await torture.in_process_orchestrator(ws).resume(record)
    assert torture.progress_names(state) == torture.progress_names(ref_state)


# ── SIGTERM and SIGINT ──────────────────────────────────────────────────


def cli_env() -> dict[str, str]:
    return dict(torture.cli_env())


def wait_for_line(path: Path, needle: str, proc: subprocess.Popen) -> None:
    """Poll the event log until a line containing `needle` is there (deadline; fails if the process ends)."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        if path.exists() and needle in path.read_text(encoding="utf-8", errors="replace"):
            return
        assert proc.poll() is None, f"studio-tui ended (exit {proc.returncode}) before {needle!r}"
        assert time.monotonic() < deadline, f"no {needle!r} in {path} in time"
        time.sleep(0.002)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_saves_an_interrupted_checkpoint_exits_130_and_resumes_to_the_same_end(tmp_path, reference, sig):
    _, _, ref_view = reference
    ws = torture.make_project(tmp_path, "run")
    proc = subprocess.Popen(
        torture.studio(ws.root, "build", torture.GOAL, *torture.run_args(4)),
        cwd=ws.project_root,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        events_path = None
        deadline = time.monotonic() + DEADLINE_S
        while events_path is None:
            found = ws.orchestrations()
            if found:
                events_path = ws.events_path(found[0])
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.002)
        # in the middle of the builder's risky step 2 (1 s at speed 1, a quarter of that here)
        wait_for_line(events_path, '"type":"checkpoint_saved"', proc)
        wait_for_line(events_path, '"name":"before_builder_step_2"', proc)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err.decode(errors="replace")
    assert b"Traceback" not in err
    orch_id = ws.latest()
    read = read_log(ws.events_path(orch_id))
    assert read.bad_lines == []
    events = read.events
    assert events[-1].type == "orchestration_finished" and events[-1].status == "interrupted"
    saved = [e for e in events if isinstance(e, ev.CheckpointSaved) and e.reason == "interrupt"]
    assert [e.name for e in saved] == ["interrupted"]
    cp_id = saved[0].checkpoint_id
    assert f"resume {cp_id}".encode() in out
    # state.yaml and the checkpoint parse, and say what the log says
    state = OrchestrationState.from_dict(yaml.safe_load(ws.state_path(orch_id).read_text()))
    assert state == fold(events) and state.status == "interrupted"
    record = ws.find_checkpoint(cp_id)
    assert record.state.agent("builder").steps_completed[:1] == [1]
    done = subprocess.run(
        torture.studio(ws.root, "resume", cp_id, *torture.run_args(0)),
        cwd=ws.project_root,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=DEADLINE_S,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    final = fold(read_log(ws.events_path(orch_id)).events)
    assert final.status == "completed"
    assert torture.differences(ref_view, torture.comparable(ws, final)) == []
    assert os.path.getsize(ws.root / "lock") == 0  # released, naming nobody


# ── the plan builder with real side effects, all four workflows ─────────


def test_plan_builder_kills_never_rerun_a_completed_step_nor_leave_orphans():
    """The fast subset of `python scripts/torture.py --plan-builder` (the README's figures use >= 50 runs)."""
    sys.path.insert(0, str(REPO / "scripts"))
    import torture_sidefx

    summary = torture_sidefx.torture(4, 3, max_kills=2, jobs=2)
    assert summary["runs_per_workflow"] == dict.fromkeys(torture_sidefx.WORKFLOWS, 1)
    assert summary["failures"] == []
    assert summary["re_executed_completed_steps"] == 0
    assert summary["orphans_after_kill"] == 0 and summary["leftover_after_resume"] == 0
    assert summary["kills"] >= 1
