"""ACP agents in every role, against real agent processes (tests/acp_agents/script_agent.py plays a
JSON script through the agent side of `agent-client-protocol`): a Planner writing a validated
plan.json (a bad one first, a question, ACP plan entries), an Architect writing backlog.yaml, a
Builder checked by studio-tui's own quality gates, retries that carry context and continue the
agent's own session, usage estimates, and the failure paths (never valid, exit mid-turn, initialize
never answered, authentication required). Then whole builds with every role `kind: acp`."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from agent_helpers import RecordingReporter, make_task

from studio_tui.core import events as ev
from studio_tui.core.agents import agent_factory
from studio_tui.core.agents.acp import AcpAgent
from studio_tui.core.agents.base import Failure
from studio_tui.core.budget import budget_table
from studio_tui.core.config import AcpAgentConfig, PlannerConfig
from studio_tui.core.decider import PolicyDecider
from studio_tui.core.orchestrator import Orchestrator
from studio_tui.core.plan import load_backlog, load_plan
from studio_tui.core.reducer import fold
from studio_tui.core.store import Workspace, read_log

AGENTS = Path(__file__).resolve().parent / "acp_agents"
WAIT = 60.0
"""Deadline for a whole run (several agent processes on a loaded machine)."""

GATE_NEEDS_FIXED = [
    sys.executable,
    "-c",
    "import pathlib, sys; print('fixed.txt is missing'); sys.exit(0 if pathlib.Path('fixed.txt').exists() else 1)",
]


def plan_json(task_id: str, *, steps: int = 2, gates: list[Any] | None = None) -> str:
    plan = {
        "id": f"bp_{task_id}",
        "task_id": task_id,
        "goal": "the goal",
        "summary": "a small plan",
        "steps": [{"id": i, "description": f"do part {i}"} for i in range(1, steps + 1)],
        "quality_gates": gates if gates is not None else [{"name": "fixed", "command": GATE_NEEDS_FIXED}],
    }
    return json.dumps(plan)


class Agent:
    """A script_agent.py with its own script and trace file under tmp_path."""

    def __init__(self, tmp_path: Path, name: str, turns: list[list[dict[str, Any]]], *flags: str) -> None:
        self.script = tmp_path / f"{name}.json"
        self.script.write_text(json.dumps(turns))
        self.trace = tmp_path / f"{name}.trace"
        self.flags = list(flags)

    def command(self) -> list[str]:
        return [sys.executable, str(AGENTS / "script_agent.py"), "--script", str(self.script), "--trace", str(self.trace), *self.flags]

    def config(self, **fields: Any) -> AcpAgentConfig:
        return AcpAgentConfig(kind="acp", command=self.command(), timeout=fields.pop("timeout", 30.0), **fields)

    def records(self, event: str | None = None) -> list[dict[str, Any]]:
        lines = self.trace.read_text().splitlines() if self.trace.exists() else []
        records = [json.loads(line) for line in lines]
        return [r for r in records if event is None or r["event"] == event]

    def prompts(self) -> list[str]:
        return [r["text"] for r in self.records("prompt")]


def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".studio").mkdir(parents=True)
    return root


def planner_task(root: Path, **overrides: Any):
    fields: dict[str, Any] = {"key": "planner", "role": "planner", "mode": "plan", "task_id": None}
    fields.update(overrides)
    return make_task(root, **fields)


# ── Planner ───────────────────────────────────────────────────────────────


async def test_planner_writes_a_valid_plan_and_usage_is_estimated(tmp_path):
    root = project(tmp_path)
    path = root / ".studio/tasks/T1/plan.json"
    agent = Agent(tmp_path, "planner", [[{"write": str(path), "content": plan_json("T1")}, {"say": "Plan written."}]])
    reporter = RecordingReporter()

    outcome = await AcpAgent(agent.config()).run(planner_task(root, context={"from": "router"}), reporter)

    assert outcome.ok, outcome.failure
    assert outcome.output["plan_path"] == str(path)
    assert (outcome.output["task_id"], outcome.output["plan_id"]) == ("T1", "bp_T1")
    assert load_plan(path).steps[1].description == "do part 2"
    [prompt] = agent.prompts()
    # The prompt names the goal, the handoff context, the exact path and the format.
    assert "Goal: build the thing" in prompt and '"from": "router"' in prompt
    assert str(path) in prompt and '"task_id": "T1"' in prompt and "quality_gates" in prompt
    # The agent reported no usage: an estimate from the prompt and reply sizes, labelled as one.
    estimated = [e for e in reporter.events if e[0] == "tokens"]
    assert len(estimated) == 1 and estimated[0][3] == "estimated"
    assert estimated[0][2] >= len(prompt) // 4
    assert outcome.output["usage"]["estimated_tokens"] == estimated[0][2]
    assert reporter.sessions and reporter.sessions[0]["session_id"].startswith("script-session-")


async def test_planner_bad_plan_goes_back_in_the_same_session_with_the_error(tmp_path):
    root = project(tmp_path)
    path = root / ".studio/tasks/T7/plan.json"
    bad = json.dumps({"id": "bp", "task_id": "T7", "steps": [{"id": 2, "description": "x"}]})
    agent = Agent(
        tmp_path,
        "planner",
        [
            [{"write": str(path), "content": bad}, {"say": "Done."}],
            [{"write": str(path), "content": plan_json("T7")}, {"say": "Fixed."}],
        ],
    )
    reporter = RecordingReporter()

    outcome = await AcpAgent(agent.config()).run(planner_task(root, task_id="T7"), reporter)

    assert outcome.ok, outcome.failure
    assert outcome.output["plan_id"] == "bp_T7"
    _first, second = agent.prompts()
    assert "step ids must be 1..1 in order" in second and str(path) in second
    # One process, one session: the follow-up went to the same session.
    assert len(agent.records("initialize")) == 1
    assert len({r["session_id"] for r in agent.records("prompt")}) == 1
    assert any("not valid (1/3)" in m for m, _ in reporter.logs)


async def test_planner_question_goes_to_the_person_and_the_answer_is_the_next_prompt(tmp_path):
    root = project(tmp_path)
    path = root / ".studio/tasks/T1/plan.json"
    agent = Agent(
        tmp_path,
        "planner",
        [
            [{"say": "I read the code.\nShould the login use OAuth or passwords?"}],
            [{"write": str(path), "content": plan_json("T1")}, {"say": "Plan written."}],
        ],
    )
    reporter = RecordingReporter(answers=["OAuth, with GitHub"])

    outcome = await AcpAgent(agent.config()).run(planner_task(root), reporter)

    assert outcome.ok, outcome.failure
    assert reporter.questions == [("I read the code.\nShould the login use OAuth or passwords?", "")]
    assert "The person answered:\nOAuth, with GitHub" in agent.prompts()[1]


async def test_planner_question_rounds_are_limited(tmp_path):
    root = project(tmp_path)
    path = root / ".studio/tasks/T1/plan.json"
    agent = Agent(
        tmp_path,
        "planner",
        [
            [{"say": "Which database?"}],
            [{"say": "And which cloud?"}],
            [{"write": str(path), "content": plan_json("T1")}],
        ],
    )
    reporter = RecordingReporter(answers=["postgres", "never asked"])

    outcome = await AcpAgent(agent.config(), planner=PlannerConfig(max_question_rounds=1)).run(planner_task(root), reporter)

    assert outcome.ok, outcome.failure
    assert [q for q, _ in reporter.questions] == ["Which database?"]
    assert "write the plan" in agent.prompts()[2]


async def test_planner_that_never_writes_a_valid_plan_is_a_design_flaw(tmp_path):
    root = project(tmp_path)
    path = root / ".studio/tasks/T1/plan.json"
    agent = Agent(
        tmp_path,
        "planner",
        [
            [{"write": str(path), "content": "{not json"}],
            [{"say": "I think it is fine now."}],
        ],
    )

    outcome = await AcpAgent(agent.config(), planner=PlannerConfig(plan_attempts=2)).run(planner_task(root), RecordingReporter())

    assert not outcome.ok
    assert outcome.failure.category == "design_flaw"
    assert "did not leave a valid plan in 2 attempts" in outcome.failure.message
    assert "invalid JSON" in outcome.failure.details
    assert len(agent.prompts()) == 2


async def test_planner_plan_entries_become_the_plan_when_no_file_is_written(tmp_path):
    root = project(tmp_path)
    agent = Agent(tmp_path, "planner", [[{"plan": ["Read the code", "Fix the bug", "Run the tests"]}, {"say": "Here is my plan."}]])
    reporter = RecordingReporter()

    outcome = await AcpAgent(agent.config()).run(planner_task(root, task_id="T3"), reporter)

    assert outcome.ok, outcome.failure
    plan = load_plan(root / ".studio/tasks/T3/plan.json")
    assert [(s.id, s.description, s.command) for s in plan.steps] == [
        (1, "Read the code", None),
        (2, "Fix the bug", None),
        (3, "Run the tests", None),
    ]
    assert outcome.output["from_plan_entries"] is True


async def test_planner_agent_exiting_mid_turn_is_a_code_error(tmp_path):
    root = project(tmp_path)
    agent = Agent(tmp_path, "planner", [[{"say": "working on it\n"}, {"exit": 3}]])

    outcome = await AcpAgent(agent.config()).run(planner_task(root), RecordingReporter())

    assert not outcome.ok
    assert outcome.failure.category == "code_error"
    assert "session/prompt" in outcome.failure.message and "3" in outcome.failure.message


# ── Architect ─────────────────────────────────────────────────────────────


async def test_architect_backlog_is_validated_and_errors_are_sent_back(tmp_path):
    root = project(tmp_path)
    backlog = root / ".studio/backlog.yaml"
    good = yaml.safe_dump(
        {
            "epics": [
                {
                    "id": "E1",
                    "title": "Auth",
                    "features": [
                        {
                            "id": "F1",
                            "title": "Login",
                            "tasks": [{"id": "T1", "title": "Login form"}, {"id": "T2", "title": "Session store", "depends_on": ["T1"]}],
                        }
                    ],
                }
            ]
        }
    )
    agent = Agent(
        tmp_path,
        "architect",
        [
            [{"write": str(backlog), "content": "epics:\n  - id: E1\n    titel: typo\n"}],
            [{"write": str(backlog), "content": good}],
        ],
    )

    outcome = await AcpAgent(agent.config()).run(
        make_task(root, key="architect", role="architect", mode="decompose", task_id=None), RecordingReporter()
    )

    assert outcome.ok, outcome.failure
    assert outcome.output["tasks"] == ["T1", "T2"]
    first, second = agent.prompts()
    assert str(backlog) in first and "epics:" in first
    assert "'epics.0.title': Field required" in second
    assert [t.id for t in load_backlog(backlog).tasks()] == ["T1", "T2"]


# ── Builder ───────────────────────────────────────────────────────────────


def builder_task(root: Path, plan_text: str, **overrides: Any):
    path = root / ".studio/tasks/T1/plan.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(plan_text)
    return make_task(root, plan_path=path, **overrides)


async def test_builder_gets_one_prompt_a_step_and_a_failing_gate_goes_back_as_a_retry(tmp_path):
    root = project(tmp_path)
    agent = Agent(
        tmp_path,
        "builder",
        [
            [{"say": "part 1 done"}, {"usage": 800}],
            [{"say": "part 2 done, all good"}],
            [{"write": "fixed.txt", "content": "ok\n"}, {"say": "fixed"}],
        ],
    )
    reporter = RecordingReporter()

    outcome = await AcpAgent(agent.config()).run(builder_task(root, plan_json("T1")), reporter)

    assert outcome.ok, outcome.failure
    assert outcome.output["quality_gates"] == {"fixed": "passed"}
    assert outcome.output["steps_completed"] == [1, 2]
    flow = [e for e in reporter.events if e[0] != "tokens"]
    assert flow == [
        ("step", 1, 2, "do part 1", False),
        ("step_done", 1),
        ("step", 2, 2, "do part 2", False),
        ("step_done", 2),
        ("retry_in_session", "code_error", "quality gate fixed failed: exit 1"),
    ]
    one, two, fix = agent.prompts()
    assert "Step 1 of 2: do part 1" in one and "one step at a time" in one
    assert two.startswith("Step 2 of 2: do part 2")
    assert "quality gate fixed failed" in fix and "fixed.txt is missing" in fix
    assert len(agent.records("initialize")) == 1


async def test_builder_gate_failure_without_retries_left_is_returned(tmp_path):
    root = project(tmp_path)
    agent = Agent(tmp_path, "builder", [[{"say": "done"}]])
    reporter = RecordingReporter()
    reporter.in_session_retries = 0

    outcome = await AcpAgent(agent.config()).run(builder_task(root, plan_json("T1", steps=1)), reporter)

    assert not outcome.ok
    assert outcome.failure.category == "code_error"
    assert outcome.failure.message == "quality gate fixed failed: exit 1"
    assert "fixed.txt is missing" in outcome.failure.details


async def test_retry_prompt_carries_the_failure_and_skips_completed_steps(tmp_path):
    root = project(tmp_path)
    agent = Agent(tmp_path, "builder", [[{"write": "fixed.txt", "content": "ok\n"}]])
    failure = Failure(category="transient", message="timed out after 30s", step=2, details="during session/prompt; stderr: boom")
    task = builder_task(root, plan_json("T1"), attempt=3, failure=failure, completed_steps=frozenset({1}))
    reporter = RecordingReporter()

    outcome = await AcpAgent(agent.config()).run(task, reporter)

    assert outcome.ok, outcome.failure
    [prompt] = agent.prompts()
    for expected in (
        "attempt 3",
        "Failure category: transient",
        "Failure: timed out after 30s",
        "Failed step: 2",
        "Steps already completed: 1",
        "stderr: boom",
        "Step 2 of 2: do part 2",
    ):
        assert expected in prompt
    assert [e for e in reporter.events if e[0] == "step"] == [("step", 2, 2, "do part 2", False)]


async def test_a_retry_continues_the_agents_own_session_when_it_can_load_it(tmp_path):
    root = project(tmp_path)
    failure = Failure(category="code_error", message="the agent process ended during session/prompt: exit code 3")
    loader = Agent(tmp_path, "loader", [[{"say": "continued"}]], "--load-session")
    plain = Agent(tmp_path, "plain", [[{"say": "fresh"}]])
    task = make_task(root, attempt=2, failure=failure, session_id="script-session-old")
    reporters = RecordingReporter(), RecordingReporter()

    loaded, fresh = await asyncio.gather(
        AcpAgent(loader.config()).run(task, reporters[0]), AcpAgent(plain.config()).run(task, reporters[1])
    )

    assert loaded.ok and fresh.ok
    assert [r["session_id"] for r in loader.records("load_session")] == ["script-session-old"]
    assert not loader.records("new_session")
    [continued] = loader.prompts()
    assert "Goal:" not in continued and "the agent process ended" in continued
    assert all("REPLAYED HISTORY" not in m for m, _ in reporters[0].logs)
    assert reporters[0].sessions[0]["session_id"] == "script-session-old"
    # An agent that cannot load sessions gets a new one, with the whole prompt and the failure.
    assert plain.records("new_session") and not plain.records("load_session")
    [whole] = plain.prompts()
    assert "Goal: build the thing" in whole and "the agent process ended" in whole


# ── failures before the first prompt ─────────────────────────────────────


async def test_initialize_never_answered_is_transient_and_auth_required_is_a_blocker(tmp_path):
    root = project(tmp_path)
    silent = Agent(tmp_path, "silent", [], "--no-initialize")
    locked = Agent(tmp_path, "locked", [], "--auth-required")

    timed_out, auth = await asyncio.gather(
        AcpAgent(silent.config(init_timeout=3.0)).run(make_task(root), RecordingReporter()),
        AcpAgent(locked.config()).run(make_task(root), RecordingReporter()),
    )

    assert timed_out.failure.category == "transient"
    assert "did not answer initialize within 3s" in timed_out.failure.message
    assert auth.failure.category == "blocker"
    assert "Not signed in: run `script-agent login` first" in auth.failure.message
    assert "API key (api-key)" in auth.failure.message and "Browser login (login)" in auth.failure.message
    assert not locked.prompts()


# ── whole builds, every role an ACP agent ───────────────────────────────


def workspace_with(root: Path, agents: dict[str, Agent], **config: Any) -> Workspace:
    studio = root / ".studio"
    studio.mkdir(exist_ok=True)
    roles = {role: {"kind": "acp", "command": agent.command(), "timeout": 60} for role, agent in agents.items()}
    (studio / "config.yaml").write_text(yaml.safe_dump({"checkpoints": {"every_steps": 0}, "agents": roles, **config}))
    return Workspace(studio)


async def run_build(workspace: Workspace, goal: str, decider: PolicyDecider | None = None):
    cfg = workspace.config()
    orchestrator = Orchestrator(workspace, cfg, decider or PolicyDecider(), agent_factory(workspace, cfg))
    state = await asyncio.wait_for(orchestrator.build(goal), WAIT)
    return state, read_log(workspace.events_path(state.id)).events


async def test_plan_then_build_with_acp_planner_and_builder_checked_by_gates(tmp_path):
    root = project(tmp_path)
    plan_path = root / ".studio/tasks/T1/plan.json"
    planner = Agent(
        tmp_path,
        "planner",
        [
            [{"say": "Which framework?"}],
            [{"write": str(plan_path), "content": plan_json("T1")}, {"say": "Plan written."}],
        ],
    )
    builder = Agent(
        tmp_path,
        "builder",
        [
            [{"say": "part 1"}],
            [{"say": "part 2"}],
            [{"write": "fixed.txt", "content": "ok\n"}, {"say": "fixed"}],
        ],
    )
    architect = Agent(tmp_path, "architect", [])
    workspace = workspace_with(root, {"planner": planner, "builder": builder, "architect": architect})

    state, events = await run_build(workspace, "Add a login page")

    assert state.routing.workflow == "plan_then_build"
    assert state.status == "completed", state.summary
    asked = [e for e in events if isinstance(e, ev.DecisionRequested) and e.kind == "question"]
    assert [q.prompt for q in asked] == ["Which framework?"]
    handoff = next(h for h in state.handoffs if h.to_agent == "builder")
    assert handoff.context["plan_id"] == "bp_T1"
    steps = [(e.step, e.status) for e in events if isinstance(e, ev.AgentStep) and e.agent == "builder"]
    assert steps == [(1, "started"), (1, "completed"), (2, "started"), (2, "completed")]
    # The failing gate counted as a retry, in the builder's own session.
    builder_state = state.agent("builder")
    assert builder_state.retries == 1 and builder_state.attempts == 1
    retried = [e for e in events if isinstance(e, ev.RecoveryDecided) and e.agent == "builder"]
    assert [r.action for r in retried] == ["retry"] and "own session" in retried[0].reason
    assert builder_state.session_id and builder_state.session_id.startswith("script-session-")
    assert builder_state.output["quality_gates"] == {"fixed": "passed"}
    # Neither agent reported usage: the working pool was charged estimates, labelled as such in the
    # budget table (`studio-tui budget`, the budget pane) while the agent held them; released after.
    last_estimate = max(i for i, e in enumerate(events) if isinstance(e, ev.TokensUsed) and e.estimated)
    during = fold(events[: last_estimate + 1])
    working = during.budget.pools["working"]
    assert 0 < working.estimated <= working.used
    rows = {name: status for name, _, _, status in budget_table(during)}
    assert rows["working"].endswith(f"(~{working.estimated:,} estimated)")
    assert "estimated" in rows["TOTAL"]
    assert state.budget.pools["working"].estimated == 0 and "estimated" not in budget_table(state)[-1][3]


async def test_decompose_first_with_every_role_acp(tmp_path):
    root = project(tmp_path)
    backlog = {
        "epics": [
            {"id": "E1", "title": "Platform", "features": [{"id": "F1", "title": "Core", "tasks": [{"id": "T1", "title": "Core service"}]}]}
        ]
    }
    architect = Agent(tmp_path, "architect", [[{"write": str(root / ".studio/backlog.yaml"), "content": yaml.safe_dump(backlog)}]])
    planner = Agent(
        tmp_path, "planner", [[{"write": str(root / ".studio/tasks/T1/plan.json"), "content": plan_json("T1", steps=1, gates=[])}]]
    )
    builder = Agent(tmp_path, "builder", [[{"say": "built"}]])
    workspace = workspace_with(root, {"planner": planner, "builder": builder, "architect": architect})

    state, _events = await run_build(workspace, "Build a new platform project system")

    assert state.routing.workflow == "decompose_first"
    assert state.status == "completed", state.summary
    assert [a.agent for a in state.agent_states if a.status == "completed"] == ["architect", "planner:T1", "builder:T1"]
    assert "T1" in planner.prompts()[0] and str(root / ".studio/tasks/T1/plan.json") in planner.prompts()[0]


async def test_plan_never_valid_is_a_design_flaw_that_escalates(tmp_path):
    root = project(tmp_path)
    planner = Agent(tmp_path, "planner", [[{"say": "no plan"}], [{"say": "still no plan"}]])
    builder = Agent(tmp_path, "builder", [])
    workspace = workspace_with(root, {"planner": planner, "builder": builder, "architect": builder}, planner={"plan_attempts": 2})

    state, events = await run_build(workspace, "Add a login page")

    assert state.status == "aborted"
    failed = [e for e in events if isinstance(e, ev.AgentFailed)]
    assert [(f.agent, f.category) for f in failed] == [("planner", "design_flaw")]
    decided = [e for e in events if isinstance(e, ev.RecoveryDecided)]
    assert [d.action for d in decided] == ["escalate"]
    assert any(isinstance(e, ev.DecisionRequested) and e.kind == "escalation" for e in events)


async def test_builder_retry_after_a_crash_continues_the_same_session(tmp_path):
    root = project(tmp_path)
    planner = Agent(
        tmp_path, "planner", [[{"write": str(root / ".studio/tasks/T1/plan.json"), "content": plan_json("T1", steps=2, gates=[])}]]
    )
    builder = Agent(tmp_path, "builder", [[{"say": "part 1"}], [{"exit": 3}], [{"say": "part 2 again"}]], "--load-session")
    workspace = workspace_with(root, {"planner": planner, "builder": builder, "architect": planner}, recovery={"backoff": {"initial": 0}})

    state, _events = await run_build(workspace, "Add a login page")

    assert state.status == "completed", state.summary
    [first_session] = [r["session_id"] for r in builder.records("new_session")]
    assert [r["session_id"] for r in builder.records("load_session")] == [first_session]
    retry_prompt = builder.prompts()[2]
    assert "attempt 2" in retry_prompt and "Failure category: code_error" in retry_prompt
    assert "Steps already completed: 1" in retry_prompt and "Step 2 of 2" in retry_prompt
    assert state.agent("builder").session_id == first_session


async def test_resume_continues_the_builders_own_session(tmp_path):
    root = project(tmp_path)
    planner = Agent(
        tmp_path, "planner", [[{"write": str(root / ".studio/tasks/T1/plan.json"), "content": plan_json("T1", steps=2, gates=[])}]]
    )
    builder = Agent(tmp_path, "builder", [[{"say": "part 1"}], [{"exit": 3}], [{"say": "part 2 after the resume"}]], "--load-session")
    workspace = workspace_with(
        root,
        {"planner": planner, "builder": builder, "architect": planner},
        recovery={"max_retries": 0, "max_replans": 0},
        checkpoints={"every_steps": 1},
    )
    first, _ = await run_build(workspace, "Add a login page", PolicyDecider("abort"))
    assert first.status == "aborted"
    [session_id] = [r["session_id"] for r in builder.records("new_session")]
    checkpoint = next(c for c in reversed(first.checkpoints) if c.after_agent == "builder")
    record = workspace.find_checkpoint(checkpoint.id)
    assert record.state.agent("builder").session_id == session_id

    cfg = workspace.config()
    orchestrator = Orchestrator(workspace, cfg, PolicyDecider("retry"), agent_factory(workspace, cfg))
    resumed = await asyncio.wait_for(orchestrator.resume(record), WAIT)

    assert resumed.status == "completed", resumed.summary
    assert [r["session_id"] for r in builder.records("load_session")] == [session_id]
    last = builder.prompts()[-1]
    assert "Step 2 of 2" in last and "Step 1 of 2" not in last and "Goal:" not in last


async def test_design_flaw_in_the_builder_replans_the_same_task_with_the_failure(tmp_path):
    root = project(tmp_path)
    plan_path = root / ".studio/tasks/T1/plan.json"
    planner = Agent(
        tmp_path,
        "planner",
        [
            [{"write": str(plan_path), "content": plan_json("T1", steps=2, gates=[])}],
            [{"write": str(plan_path), "content": plan_json("T1", steps=3, gates=[])}],
        ],
    )
    builder = Agent(
        tmp_path, "builder", [[{"say": "part 1"}], [{"say": "too big"}, {"stop": "max_tokens"}], [{"say": "part 2"}], [{"say": "part 3"}]]
    )
    workspace = workspace_with(root, {"planner": planner, "builder": builder, "architect": planner})

    state, events = await run_build(workspace, "Add a login page")

    assert state.status == "completed", state.summary
    assert [d.action for d in events if isinstance(d, ev.RecoveryDecided)] == ["replan"]
    replan = planner.prompts()[1]
    assert "This is a replan" in replan and "Failure category: design_flaw" in replan
    assert "max_tokens" in replan and "Steps already completed: 1" in replan
    assert str(plan_path) in replan
    assert "keep them as the new plan's first steps" in replan
    assert len(load_plan(plan_path).steps) == 3
    assert not (root / ".studio/tasks/T2").exists()
    # The completed step is not prompted again: the new plan's build starts after it.
    after = builder.prompts()[2:]
    assert "Step 2 of 3: do part 2" in after[0] and "Step 1 of 3" not in after[0]
    assert "Step 3 of 3: do part 3" in after[1]
    assert sorted(state.agent("builder").steps_completed) == [1, 2, 3]


async def test_custom_instructions_replace_the_roles_text_and_bad_placeholders_are_rejected(tmp_path):
    root = project(tmp_path)
    path = root / ".studio/tasks/T1/plan.json"
    agent = Agent(tmp_path, "planner", [[{"write": str(path), "content": plan_json("T1")}]])
    custom = "Write plan.json for {task_id} at {output_path}; nothing else.{failure}"

    outcome = await AcpAgent(agent.config(instructions=custom)).run(planner_task(root), RecordingReporter())

    assert outcome.ok, outcome.failure
    [prompt] = agent.prompts()
    assert prompt.rstrip().endswith(f"Write plan.json for T1 at {path}; nothing else.")
    assert "quality_gates" not in prompt  # the built-in format text was replaced
    with pytest.raises(ValueError, match=r"instructions: unknown placeholder \{output\}"):
        agent.config(instructions="write {output}")
