"""Resume continues from the log: no completed step runs twice, the step in flight re-runs marked so,
each agent comes back in its mode (an interrupted replan stays a replan), a half-finished completion
is finished without repeating its handoff. The plan builder runs real commands with side effects."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio_tui.core import events as ev
from studio_tui.core.decider import PolicyDecider
from studio_tui.core.orchestrator.resume_point import find_resume_point


class Crash(BaseException):
    """Stands in for kill -9: only `finally` blocks run (no interrupted checkpoint, no final event)."""


def crash_at(predicate):
    def subscriber(event, state):
        if predicate(event):
            raise Crash(f"crash after seq {event.seq}")

    return subscriber


def sidefx_plan(task_id: str = "task_fx", steps: int = 4, *, plan_id: str = "bp_fx") -> dict:
    return {
        "id": plan_id,
        "task_id": task_id,
        "summary": "append a line per step",
        "steps": [
            {"id": n, "description": f"step {n}", "command": f"echo {task_id}:{n} >> sidefx.log", "risky": n == 3}
            for n in range(1, steps + 1)
        ],
    }


def use_plan_builder(ws):
    """The builder runs the plan's commands for real (config.yaml's builder entry replaced)."""
    import yaml

    config = yaml.safe_load(ws.config_path.read_text())
    config["agents"]["builder"] = {"kind": "plan_builder", "step_timeout": 60}
    ws.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return ws


class Run:
    def __init__(self, state, events):
        self.state = state
        self.events = events

    def of(self, cls):
        return [e for e in self.events if isinstance(e, cls)]


@pytest.fixture
def run_build():
    """Run (or resume) with the agents config.yaml names: scripted planner, real plan builder."""
    from studio_tui.core.agents import agent_factory
    from studio_tui.core.orchestrator import Orchestrator

    async def run(ws, goal=None, *, decider=None, subscribers=(), resume=None):
        config = ws.config()
        events: list = []
        orch = Orchestrator(ws, config, decider or PolicyDecider("retry"), agent_factory(ws, config, speed=0))
        orch.subscribe(lambda e, s: events.append(e))
        for subscriber in subscribers:
            orch.subscribe(subscriber)
        if resume is not None:
            state = await orch.resume(resume)
        else:
            state = await orch.build(goal or "Add the side effects")
        return Run(state, events)

    return run


def sidefx_lines(ws) -> list[str]:
    path = ws.project_root / "sidefx.log"
    return path.read_text().split() if path.exists() else []


def newest_record(ws, orch_id):
    point_cp = [cp for cp, path in ws.checkpoint_paths() if path.parent.parent.name == orch_id]
    return ws.find_checkpoint(max(point_cp, key=lambda c: int(c[3:])))


@pytest.fixture
def plan_ws(write_ws):
    scenario = {
        "goal": "Add the side effects",
        "planner": {"steps": [{"duration": 0}], "plan": sidefx_plan()},
    }
    return use_plan_builder(write_ws(scenario))


async def test_crash_after_a_completed_step_resumes_after_it(plan_ws, run_build):
    is_step2_done = lambda e: isinstance(e, ev.AgentStep) and e.agent == "builder" and e.step == 2 and e.status == "completed"  # noqa: E731
    with pytest.raises(Crash):
        await run_build(plan_ws, subscribers=(crash_at(is_step2_done),))
    assert sidefx_lines(plan_ws) == ["task_fx:1", "task_fx:2"]
    orch_id = plan_ws.latest()
    record = newest_record(plan_ws, orch_id)
    point = find_resume_point(plan_ws, record)
    assert not point.rewind
    resumed = await run_build(plan_ws, decider=PolicyDecider("abort"), resume=record)
    assert resumed.state.status == "completed"
    # every step ran exactly once, over the two processes
    assert sidefx_lines(plan_ws) == ["task_fx:1", "task_fx:2", "task_fx:3", "task_fx:4"]
    assert [e.rewind for e in resumed.of(ev.Resumed)] == [False]
    assert resumed.of(ev.StepRerun) == []  # the crash came between steps: nothing was in flight


async def test_the_step_in_flight_reruns_and_is_marked(plan_ws, run_build):
    is_step3_started = lambda e: isinstance(e, ev.AgentStep) and e.agent == "builder" and e.step == 3 and e.status == "started"  # noqa: E731
    with pytest.raises(Crash):
        await run_build(plan_ws, subscribers=(crash_at(is_step3_started),))
    record = newest_record(plan_ws, plan_ws.latest())
    resumed = await run_build(plan_ws, decider=PolicyDecider("abort"), resume=record)
    assert resumed.state.status == "completed"
    assert [(e.agent, e.step) for e in resumed.of(ev.StepRerun)] == [("builder", 3)]
    assert resumed.state.agent("builder").reruns == [3]
    assert sidefx_lines(plan_ws) == ["task_fx:1", "task_fx:2", "task_fx:3", "task_fx:4"]
    # the risky step's checkpoint is not saved a second time: names stay unique
    names = [c.name for c in resumed.state.checkpoints]
    assert len(names) == len(set(names)), names
    assert names.count("before_builder_step_3") == 1


async def test_completion_without_its_handoff_is_finished_not_repeated(plan_ws, run_build):
    planner_done = lambda e: isinstance(e, ev.AgentCompleted) and e.agent == "planner"  # noqa: E731
    with pytest.raises(Crash):
        await run_build(plan_ws, subscribers=(crash_at(planner_done),))
    record = newest_record(plan_ws, plan_ws.latest())
    assert record.meta.name == "routed"
    point = find_resume_point(plan_ws, record)
    assert point.unsettled == {"planner"}
    resumed = await run_build(plan_ws, decider=PolicyDecider("abort"), resume=record)
    assert resumed.state.status == "completed"
    assert [e.agent for e in resumed.of(ev.AgentStarted)] == ["builder"]  # the planner did not run again
    assert [(h.from_agent, h.to_agent) for h in resumed.state.handoffs] == [("planner", "builder")]
    assert [c.name for c in resumed.state.checkpoints].count("planner_complete") == 1
    assert sidefx_lines(plan_ws) == ["task_fx:1", "task_fx:2", "task_fx:3", "task_fx:4"]


async def test_an_interrupted_replan_resumes_as_a_replan_and_builds_the_new_plan(write_ws, run_build):
    plan = sidefx_plan()
    plan["steps"][1]["command"] = "test -f fixed || { echo flaw >&2; exit 1; }; echo task_fx:2 >> sidefx.log"
    plan["steps"][1]["on_failure"] = "design_flaw"
    replan = {"steps": [{"id": 2, "description": "step 2, another way", "command": "touch fixed; echo task_fx:2 >> sidefx.log"}]}
    scenario = {"goal": "Add the side effects", "planner": {"steps": [{"duration": 0}], "plan": plan, "replan": replan}}
    ws = use_plan_builder(write_ws(scenario))
    in_replan = lambda e: isinstance(e, ev.AgentStarted) and e.agent == "planner" and e.mode == "replan"  # noqa: E731
    with pytest.raises(Crash):
        await run_build(ws, subscribers=(crash_at(in_replan),))
    record = newest_record(ws, ws.latest())
    resumed = await run_build(ws, decider=PolicyDecider("abort"), resume=record)
    assert resumed.state.status == "completed"
    started = [(e.agent, e.mode) for e in resumed.of(ev.AgentStarted)]
    assert started[0] == ("planner", "replan")
    assert ("builder", "build") in started
    built_plan = resumed.state.agent("builder").output["plan_id"]
    assert built_plan.startswith("bp_fx_r"), built_plan
    assert sidefx_lines(ws) == ["task_fx:1", "task_fx:2", "task_fx:3", "task_fx:4"]


async def test_an_older_checkpoint_is_a_rewind_that_restores_the_plan_files(plan_ws, run_build):
    first = await run_build(plan_ws)
    assert first.state.status == "completed"
    planner_cp = next(c for c in first.state.checkpoints if c.name == "planner_complete")
    record = plan_ws.find_checkpoint(planner_cp.id)
    assert "tasks/task_fx/plan.json" in record.meta.files
    plan_path = plan_ws.task_dir("task_fx") / "plan.json"
    original = plan_path.read_text()
    plan_path.write_text(original.replace("append a line per step", "changed after the checkpoint"))
    point = find_resume_point(plan_ws, record)
    assert point.rewind and "completed" in point.why
    again = await run_build(plan_ws, decider=PolicyDecider("abort"), resume=record)
    assert [e.rewind for e in again.of(ev.Resumed)] == [True]
    assert "changed after the checkpoint" not in plan_path.read_text()
    assert again.state.status == "completed"
    # a rewind does the work after the checkpoint again, on purpose
    assert sidefx_lines(plan_ws).count("task_fx:1") == 2


def test_stored_files_are_deduplicated(tmp_path: Path):
    from studio_tui.core.store import snapshots

    root = tmp_path / ".studio"
    (root / "tasks" / "a").mkdir(parents=True)
    (root / "tasks" / "a" / "plan.json").write_text("same")
    (root / "tasks" / "b").mkdir(parents=True)
    (root / "tasks" / "b" / "plan.json").write_text("same")
    objects = tmp_path / "objects"
    names = snapshots.run_files(root, [])
    first = snapshots.store_files(root, objects, names)
    second = snapshots.store_files(root, objects, names)
    assert first == second and len(set(first.values())) == 1
    assert len([p for p in objects.rglob("*") if p.is_file()]) == 1
