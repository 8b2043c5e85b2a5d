"""Interruption and resume, and every kind of checkpoint (after agents, before risky steps, every N, on demand)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest
import yaml

from studio_tui.core import events as ev
from studio_tui.core.decider import PolicyDecider
from studio_tui.core.reducer import fold
from studio_tui.core.state import OrchestrationState
from studio_tui.core.store import CHECKPOINT_ID_RE, read_log


def assert_round_trip(workspace, orch_id):
    read = read_log(workspace.events_path(orch_id))
    assert read.bad_lines == []
    assert fold(read.events).to_yaml() == workspace.state_path(orch_id).read_text(encoding="utf-8")
    return read.events


async def interrupt_at_escalation(workspace, doubles):
    """Run the example until its escalation, then cancel the orchestrator task while it waits."""
    decider = doubles.BlockingDecider()
    events: list[ev.Event] = []
    orch = doubles.make_orchestrator(workspace, decider=decider, events=events)
    task = asyncio.create_task(orch.build("Add user authentication with OAuth"))
    await decider.escalated.wait()
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return orch, events


class YieldingAgent:
    """Forwards to an agent, but its reporter yields to the loop at every step start (so a cancel lands there)."""

    def __init__(self, inner):
        self.inner = inner

    async def run(self, task, reporter):
        class R:
            def __getattr__(self, name):
                return getattr(reporter, name)

            async def step(self, *a, **kw):
                await reporter.step(*a, **kw)
                await asyncio.sleep(0)

        return await self.inner.run(task, R())


# ── interrupted while waiting for a person, then resumed ───────────────


async def test_interrupt_while_waiting_then_resume(example_ws, doubles):
    orch, events = await interrupt_at_escalation(example_ws, doubles)
    state = orch.state
    orch_id = state.id
    assert state.status == "interrupted"
    assert isinstance(events[-1], ev.OrchestrationFinished) and events[-1].status == "interrupted"
    saved = [e for e in events if isinstance(e, ev.CheckpointSaved) and e.reason == "interrupt"]
    assert len(saved) == 1 and saved[0].name == "interrupted"
    cp_id = saved[0].checkpoint_id

    # state.yaml and the checkpoint file parse
    on_disk = example_ws.load_state(orch_id)
    assert on_disk.status == "interrupted"
    assert on_disk == fold(read_log(example_ws.events_path(orch_id)).events)
    record = example_ws.find_checkpoint(cp_id)
    assert record.meta.orch_id == orch_id and record.meta.reason == "interrupt"
    assert record.meta.seq == saved[0].seq == record.state.seq
    raw = yaml.safe_load(record.path.read_text())
    assert set(raw) == {"checkpoint", "state"}
    builder = record.state.agent("builder")
    assert sorted(builder.steps_completed) == [1, 2, 3, 4]
    # it was taken after the escalation was asked (whether the unanswered question is kept open or closed
    # as withdrawn is the orchestrator's choice; the resume below must work either way)
    assert [d.kind for d in record.state.decisions][-1:] == ["escalation"]
    assert_round_trip(example_ws, orch_id)
    first_run_last_seq = events[-1].seq

    # a fresh orchestrator picks it up
    resumed = await doubles.run_orchestration(example_ws, decider=PolicyDecider("retry"), resume=record)
    assert resumed.state.id == orch_id
    assert resumed.state.status == "completed"
    assert resumed.state.resumed_from == [cp_id]
    first = resumed.events[0]
    assert isinstance(first, ev.Resumed) and first.checkpoint_id == cp_id
    assert first.seq == first_run_last_seq + 1
    # agents that were mid-flight become pending again
    assert [(e.agent, e.status) for e in resumed.of(ev.AgentStatus)][:1] == [("builder", "pending")]
    # the builder does not redo the steps completed before the interruption
    started = Counter(e.step for e in resumed.of(ev.AgentStep) if e.agent == "builder" and e.status == "started")
    assert started == Counter({5: 1, 6: 1})
    assert not [e for e in resumed.of(ev.AgentStarted) if e.agent == "planner"]
    assert [t.completed_steps for t in resumed.tasks] == [frozenset({1, 2, 3, 4})]
    assert [t.step_failures.get(5) for t in resumed.tasks] == [1]

    # same events.jsonl, seq increasing with no gap, and the round trip holds
    all_events = assert_round_trip(example_ws, orch_id)
    seqs = [e.seq for e in all_events]
    assert seqs == list(range(1, len(seqs) + 1))
    assert sum(isinstance(e, ev.OrchestrationStarted) for e in all_events) == 1
    assert sum(isinstance(e, ev.Resumed) for e in all_events) == 1
    ids = [e.checkpoint_id for e in all_events if isinstance(e, ev.CheckpointSaved)]
    assert len(ids) == len(set(ids))
    assert example_ws.orchestrations() == [orch_id]


async def test_interrupt_in_the_middle_of_a_step_then_resume(write_ws, doubles):
    from studio_tui.core.agents.scripted import Scenario, ScriptedAgent
    from studio_tui.core.orchestrator import Orchestrator

    ws = write_ws(doubles.mini_scenario())
    scenario = Scenario.model_validate(doubles.mini_scenario())
    agent = YieldingAgent(ScriptedAgent(scenario, speed=0))
    orch = Orchestrator(ws, ws.config(), PolicyDecider("retry"), lambda r: agent, clock=doubles.FakeClock(), sleep=doubles.nosleep)
    holder: dict[str, asyncio.Task] = {}

    def cancel_at_step_3(e, s):
        if isinstance(e, ev.AgentStep) and e.agent == "builder" and e.step == 3 and e.status == "started":
            holder["task"].cancel()

    orch.subscribe(cancel_at_step_3)
    holder["task"] = asyncio.create_task(orch.build(scenario.goal))
    with pytest.raises(asyncio.CancelledError):
        await holder["task"]
    assert orch.state.status == "interrupted"
    cp = orch.state.checkpoints[-1]
    assert (cp.name, cp.reason) == ("interrupted", "interrupt")
    record = ws.find_checkpoint(cp.id)
    builder = record.state.agent("builder")
    assert builder.current_step == 3 and sorted(builder.steps_completed) == [1, 2]
    assert record.state.pending_decision is None

    resumed = await doubles.run_orchestration(ws, decider=PolicyDecider("retry"), resume=record)
    assert resumed.state.status == "completed"
    started = Counter(e.step for e in resumed.of(ev.AgentStep) if e.agent == "builder" and e.status == "started")
    # step 3 was cut off, so it runs again (and fails once: blocker -> retry, so twice); step 4 once
    assert started == Counter({3: 2, 4: 1})
    assert_round_trip(ws, resumed.state.id)


async def test_resume_from_an_aborted_run_checkpoint(write_ws, run_build, doubles):
    ws = write_ws(doubles.mini_scenario(), config={"checkpoints": {"every_steps": 1}})
    first = await run_build(ws, decider=PolicyDecider("abort"))
    assert first.state.status == "aborted"
    cp = first.state.checkpoints[-1]
    record = ws.find_checkpoint(cp.id)
    done_before = set(record.state.agent("builder").steps_completed)
    assert done_before == {1, 2}
    second = await run_build(ws, decider=PolicyDecider("retry"), resume=record)
    assert second.state.status == "completed"
    redone = {e.step for e in second.of(ev.AgentStep) if e.status == "started" and e.agent == "builder"}
    assert redone == {3, 4}
    assert_round_trip(ws, first.state.id)


# ── checkpoints ─────────────────────────────────────────────────────────


def test_checkpoint_after_each_agent_completes(example_completed):
    run = example_completed
    completed = run.of(ev.AgentCompleted)
    cps = run.of(ev.CheckpointSaved)
    for done in completed:
        after = [c for c in cps if c.seq > done.seq]
        assert after, done
        nxt = after[0]
        assert (nxt.reason, nxt.after_agent) == ("agent_completed", done.agent)
        assert nxt.name in (f"{done.agent}_complete", f"{done.agent}_replan_complete")
        # between the completion and its checkpoint: the budget release and what the agent hands on
        # (so a resume from that checkpoint has the handoff), nothing else
        between = [e for e in run.events if done.seq < e.seq < nxt.seq]
        handed_on = (ev.BudgetReleased, ev.AgentLog, ev.HandoffRecorded, ev.SequenceExtended, ev.DecisionRequested, ev.DecisionAnswered)
        assert all(isinstance(e, handed_on) for e in between), between
        if done.agent == "planner":
            assert any(isinstance(e, ev.HandoffRecorded) and e.to_agent == "builder" for e in between)
    assert len([c for c in cps if c.reason == "agent_completed"]) == len(completed)


def test_checkpoint_before_a_risky_step(example_completed):
    run = example_completed
    risky = [c for c in run.of(ev.CheckpointSaved) if c.reason == "risky_step"]
    assert [(c.name, c.after_agent) for c in risky] == [("before_builder_step_2", "builder")]
    following = next(e for e in run.events if e.seq == risky[0].seq + 1)
    assert isinstance(following, ev.AgentStep) and (following.step, following.status) == (2, "started")
    record = run.workspace.find_checkpoint(risky[0].checkpoint_id)
    assert 2 not in record.state.agent("builder").steps_completed
    assert 1 in record.state.agent("builder").steps_completed


def test_checkpoint_ids_are_unique_and_files_exist(example_completed):
    run = example_completed
    ids = [c.checkpoint_id for c in run.of(ev.CheckpointSaved)]
    assert len(ids) == len(set(ids)) >= 4
    on_disk = {cp_id for cp_id, _ in run.workspace.checkpoint_paths()}
    assert set(ids) == on_disk
    for cp_id in ids:
        assert CHECKPOINT_ID_RE.fullmatch(cp_id)
        record = run.workspace.find_checkpoint(cp_id)
        event = next(c for c in run.of(ev.CheckpointSaved) if c.checkpoint_id == cp_id)
        assert record.meta.seq == event.seq == record.state.seq
        # the snapshot is the state as it was at that event, without the list of earlier checkpoints
        # (those are in the log and the folder: a checkpoint file stays the size of the state)
        assert record.state.checkpoints == []
        expected = fold([e for e in run.events if e.seq <= event.seq])
        assert expected.checkpoints[-1].id == cp_id
        assert record.state == expected.model_copy(update={"checkpoints": []})


@pytest.mark.parametrize(("every", "expected"), [(2, [2, 4]), (3, [3]), (0, [])])
async def test_checkpoint_every_n_steps(write_ws, run_build, doubles, every, expected):
    ws = write_ws(doubles.builder_scenario({i: {} for i in range(1, 6)}), config={"checkpoints": {"every_steps": every}})
    run = await run_build(ws)
    progress = [c for c in run.of(ev.CheckpointSaved) if c.reason == "progress"]
    assert [c.name for c in progress] == [f"builder_step_{n}" for n in expected]
    for c in progress:
        previous = next(e for e in run.events if e.seq == c.seq - 1)
        assert isinstance(previous, ev.AgentStep) and previous.status == "completed"


async def test_on_demand_checkpoint_during_a_run(write_ws, doubles):
    ws = write_ws(doubles.builder_scenario({1: {}, 2: {"outcomes": [{"fail": "blocker", "message": "stuck"}]}, 3: {}}))
    decider = doubles.ScriptedDecider({"escalation": ["retry"]})
    events: list = []
    orch = doubles.make_orchestrator(ws, decider=decider, events=events)
    saved: list[str] = []
    decider.hook = lambda request: saved.append(orch.checkpoint("before answering"))
    state = await orch.build("Fix the flaky thing")
    assert state.status == "completed"
    manual = [e for e in events if isinstance(e, ev.CheckpointSaved) and e.reason == "manual"]
    assert [(c.checkpoint_id, c.name) for c in manual] == [(saved[0], "before answering")]
    assert ws.find_checkpoint(saved[0]).state.pending_decision is not None


async def test_on_demand_checkpoint_after_a_run_via_attach(write_ws, run_build, doubles):
    example_ws = write_ws(doubles.mini_scenario())
    run = await run_build(example_ws, decider=PolicyDecider("abort"))
    orch = doubles.make_orchestrator(example_ws)
    orch.attach(run.state.id)
    cp_id = orch.checkpoint("manual_review")
    orch.close()
    record = example_ws.find_checkpoint(cp_id)
    assert record.meta.name == "manual_review" and record.meta.reason == "manual"
    assert cp_id not in {c.id for c in run.state.checkpoints}
    assert_round_trip(example_ws, run.state.id)


async def test_checkpoint_requested_through_the_request_file(write_ws, doubles):
    ws = write_ws(doubles.builder_scenario({1: {}, 2: {}, 3: {}}))
    events: list = []
    orch = doubles.make_orchestrator(ws, events=events)
    written: list = []

    def request_on_step_1_done(e, s):
        if isinstance(e, ev.AgentStep) and e.step == 1 and e.status == "completed":
            folder = ws.orch_dir(s.id) / "requests"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "checkpoint-1.json").write_text(json.dumps({"name": "asked_from_outside"}))
            (folder / "checkpoint-2.json").write_text("not json")
            written.append(folder)

    orch.subscribe(request_on_step_1_done)
    state = await orch.build("Fix the flaky thing")
    assert state.status == "completed"
    on_demand = [e for e in events if isinstance(e, ev.CheckpointSaved) and e.reason == "on_demand"]
    assert [c.name for c in on_demand] == ["asked_from_outside", "on_demand"]
    # picked up at the next step, before step 2 started
    step2 = next(e for e in events if isinstance(e, ev.AgentStep) and e.step == 2 and e.status == "started")
    assert all(c.seq < step2.seq for c in on_demand)
    assert list(written[0].iterdir()) == []  # requests are consumed


async def test_checkpoint_ids_unique_with_a_frozen_clock(write_ws, run_build, doubles):
    ws = write_ws(doubles.builder_scenario({i: {} for i in range(1, 5)}), config={"checkpoints": {"every_steps": 1}})
    clock = doubles.FakeClock(step=0.0)
    first = await run_build(ws, clock=clock)
    # a second orchestration, one second later (so its id differs), whose clock is frozen on an epoch
    # the first run's checkpoints already took: the ids must still be free ones
    second = await run_build(ws, clock=doubles.FakeClock(start=clock.now + 1, step=0.0))
    ids = [c.checkpoint_id for r in (first, second) for c in r.of(ev.CheckpointSaved)]
    # per run: routed, 4 progress, builder_complete
    assert len(ids) == len(set(ids)) == 12
    assert len(ws.checkpoint_paths()) == 12


async def test_resume_twice_from_the_same_checkpoint(write_ws, run_build, doubles):
    example_ws = write_ws(doubles.mini_scenario())
    first = await run_build(example_ws, decider=PolicyDecider("abort"))
    record = example_ws.find_checkpoint(first.state.checkpoints[-1].id)
    # The newest checkpoint of an aborted run: the run continues from its log, where step 3's failure
    # is already recorded, so the step's next try (the scripted second try succeeds) completes it.
    again = await run_build(example_ws, decider=PolicyDecider("abort"), resume=record)
    assert again.state.status == "completed"
    assert [e.rewind for e in again.of(ev.Resumed)] == [False]
    # The same checkpoint once more: the run has completed since, so this is a rewind to it.
    third = await run_build(example_ws, decider=PolicyDecider("retry"), resume=record)
    assert third.state.status == "completed"
    assert [e.rewind for e in third.of(ev.Resumed)] == [True]
    assert third.state.resumed_from == [record.meta.id]
    events = assert_round_trip(example_ws, first.state.id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


def test_resume_snapshot_state_is_plain_data(example_completed):
    run = example_completed
    for _, path in run.workspace.checkpoint_paths():
        data = yaml.safe_load(path.read_text())
        assert OrchestrationState.from_dict(data["state"]).id == run.state.id


async def test_a_question_answered_before_a_resume_is_not_asked_again(example_ws, doubles):
    """Resuming mid-Planner re-runs it from its first step; the person's earlier answer is reused."""
    from studio_tui.core.decider import Answer

    class Person:
        def __init__(self):
            self.asked = []

        async def decide(self, request):
            self.asked.append(request.kind)
            if request.kind == "question":
                return Answer("Only GitHub", "person")
            return Answer("retry" if request.kind == "escalation" else request.options[0], "person")

    person = Person()
    state = await doubles.make_orchestrator(example_ws, decider=person).build("Add user authentication with OAuth")
    assert person.asked.count("question") == 1
    mid_planner = next(c for c in state.checkpoints if c.name == "planner_step_3")
    record = example_ws.find_checkpoint(mid_planner.id)
    assert record.state.agent("planner").status == "active"

    again = Person()
    resumed = await doubles.make_orchestrator(example_ws, decider=again).resume(record)
    assert resumed.status == "completed"
    assert again.asked.count("question") == 0
    events = read_log(example_ws.events_path(state.id)).events
    reused = [e for e in events if isinstance(e, ev.AgentLog) and e.message.startswith("answer reused")]
    assert reused and "Only GitHub" in reused[-1].message
