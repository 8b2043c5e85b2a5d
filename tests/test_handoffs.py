"""Agent handoffs: the seed's Planner -> Builder and Builder -> Planner contexts, recorded and delivered."""

from __future__ import annotations

import json

import yaml

from studio_tui.core import events as ev
from studio_tui.core.budget import estimate_tokens
from studio_tui.core.decider import PolicyDecider
from studio_tui.core.plan import load_plan

PLANNER_TO_BUILDER = {"task_id", "plan_id", "plan_summary", "learnings_loaded", "requirements_summary"}
BUILDER_TO_PLANNER = {"failure_reason", "completed_steps", "failed_step", "error_details", "suggestion"}


def test_handoffs_in_the_example_run(example_completed):
    run = example_completed
    example_ws = run.workspace
    handoffs = run.of(ev.HandoffRecorded)
    assert [(h.from_agent, h.to_agent) for h in handoffs] == [("planner", "builder"), ("builder", "planner"), ("planner", "builder")]

    first, replan, second = handoffs
    assert set(first.context) == PLANNER_TO_BUILDER
    assert first.context["task_id"] == "task_oauth"
    assert first.context["plan_id"] == "bp_oauth"
    assert first.context["learnings_loaded"] == ["security", "backend"]
    assert first.context["requirements_summary"] == {
        "scope_in": ["GitHub and Google sign-in", "account linking", "session cookie"],
        "scope_out": ["SAML", "password reset"],
    }
    summary = first.context["plan_summary"]
    assert summary.splitlines()[0].startswith("6 steps")
    assert "3. Implement the OAuth callback with the provider SDK" in summary

    assert set(replan.context) == BUILDER_TO_PLANNER
    assert replan.context["failed_step"] == 3
    assert replan.context["completed_steps"] == [1, 2]
    assert replan.context["failure_reason"] == "Step 3 failed: Provider SDK needs a synchronous request object; the server is async"
    assert replan.context["error_details"] == "TypeError: callback() expected Request, got coroutine"
    assert replan.context["suggestion"]

    assert set(second.context) == PLANNER_TO_BUILDER
    assert second.context["plan_id"] != first.context["plan_id"]  # the replanned plan
    assert "generic OIDC client" in second.context["plan_summary"]
    assert second.context["plan_id"] == load_plan(example_ws.task_dir("task_oauth") / "plan.json").id


def test_handoff_token_counts(example_completed):
    run = example_completed
    for h in run.of(ev.HandoffRecorded):
        assert h.tokens > 0
        assert h.tokens == estimate_tokens(len(json.dumps(h.context, sort_keys=True).encode()))


def test_handoffs_in_state_yaml_use_from_and_to(example_completed):
    run = example_completed
    data = yaml.safe_load(run.state_path.read_text())
    handoffs = data["orchestration_state"]["handoffs"]
    assert [(h["from"], h["to"]) for h in handoffs] == [("planner", "builder"), ("builder", "planner"), ("planner", "builder")]
    for h in handoffs:
        assert "from_agent" not in h and "to_agent" not in h
        assert h["tokens"] > 0
        assert h["context"]
    assert [h.context for h in run.state.handoffs] == [h["context"] for h in handoffs]


def test_agents_receive_the_handoff_as_their_context(example_completed):
    run = example_completed
    example_ws = run.workspace
    handoffs = run.of(ev.HandoffRecorded)
    started = run.of(ev.AgentStarted)
    assert len(started) == len(run.tasks)
    for task, start in zip(run.tasks, started, strict=False):
        assert task.key == start.agent
        # the latest handoff to this agent recorded before it started
        earlier = [h for h in handoffs if h.to_agent == task.key and h.seq < start.seq]
        expected = earlier[-1].context if earlier else {}
        assert task.context == expected, task.key
        assert start.input == expected
    builder_tasks = [t for t in run.tasks if t.role == "builder"]
    assert builder_tasks and all(set(t.context) == PLANNER_TO_BUILDER for t in builder_tasks)
    replanner = [t for t in run.tasks if t.role == "planner" and t.mode == "replan"]
    assert len(replanner) == 1 and set(replanner[0].context) == BUILDER_TO_PLANNER
    # the builder's plan path is the plan named by its handoff
    for t in builder_tasks:
        assert t.plan_path == example_ws.task_dir(t.context["task_id"]) / "plan.json"


def test_builder_agent_state_keeps_its_input(example_completed):
    run = example_completed
    builder = run.state.agent("builder")
    assert builder.input == run.state.handoffs[-1].context


async def test_manual_handoff_is_recorded(write_ws, run_build, doubles):
    example_ws = write_ws(doubles.mini_scenario())
    run = await run_build(example_ws, decider=PolicyDecider("retry"))
    orch = doubles.make_orchestrator(example_ws)
    orch.attach(run.state.id)
    event = orch.record_handoff("planner", "builder", {"x": 1, "note": "by hand"})
    orch.close()
    assert event.tokens == estimate_tokens(len(json.dumps({"x": 1, "note": "by hand"}, sort_keys=True)))
    data = yaml.safe_load(run.state_path.read_text())
    last = data["orchestration_state"]["handoffs"][-1]
    assert (last["from"], last["to"], last["context"]) == ("planner", "builder", {"x": 1, "note": "by hand"})
    assert event.seq == run.state.seq + 1
