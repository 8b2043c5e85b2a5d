"""Routing: the seed's signal table, precedence, ties, confidence, and the agent sequence each workflow runs."""

from __future__ import annotations

import pytest

from studio_tui.core import events as ev
from studio_tui.core.decider import PolicyDecider
from studio_tui.core.routing import BASE_CONFIDENCE, SIGNAL_WORDS, route

# ── the signal table ────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("goal", "workflow"),
    [
        ("Fix the login page", "build_only"),
        ("There is a bug in checkout", "build_only"),
        ("Error on save", "build_only"),
        ("A typo in the footer", "build_only"),
        ("Add user authentication with OAuth", "plan_then_build"),
        ("Create a settings page", "plan_then_build"),
        ("Implement password reset", "plan_then_build"),
        ("Refactor the payment module", "plan_then_build"),
        ("Restructure the repository layout", "plan_then_build"),
        ("A new project for invoicing", "decompose_first"),
        ("Billing system", "decompose_first"),
        ("Build an identity platform", "decompose_first"),
    ],
)
def test_each_signal_word_routes_to_its_workflow(goal, workflow):
    decision = route(goal)
    assert decision.workflow == workflow
    assert decision.signals, "the signal that decided must be recorded"
    assert all(workflow in s for s in decision.signals)


def test_signal_table_matches_the_seed():
    assert SIGNAL_WORDS == {
        "build_only": ("fix", "bug", "error", "typo"),
        "plan_then_build": ("add", "create", "implement", "refactor", "restructure"),
        "decompose_first": ("project", "system", "platform"),
    }


@pytest.mark.parametrize(
    ("goal", "workflow", "word"),
    [
        ("Fixes for the header", "build_only", "fixes"),
        ("fixed login redirect", "build_only", "fixed"),
        ("Fixing the cache", "build_only", "fixing"),
        ("several bugs in search", "build_only", "bugs"),
        ("errors in the importer", "build_only", "errors"),
        ("typos everywhere", "build_only", "typos"),
        ("implemented the flag, now wire it", "plan_then_build", "implemented"),
        ("Implementing OAuth", "plan_then_build", "implementing"),
        ("Creates an audit log", "plan_then_build", "creates"),
        ("created a webhook endpoint", "plan_then_build", "created"),
        ("Added a column", "plan_then_build", "added"),
        ("refactoring the parser", "plan_then_build", "refactoring"),
        ("Restructured modules", "plan_then_build", "restructured"),
        ("two projects to merge", "decompose_first", "projects"),
        ("legacy systems", "decompose_first", "systems"),
    ],
)
def test_word_forms_match(goal, workflow, word):
    decision = route(goal)
    assert decision.workflow == workflow
    assert any(f'"{word}"' in s for s in decision.signals), decision.signals


@pytest.mark.parametrize("goal", ["Update the address book", "debug output is noisy", "a prefix for ids", "systematic review"])
def test_words_inside_other_words_are_not_signals(goal):
    # "address" contains "add", "debug" contains "bug", "prefix" contains "fix", "systematic" contains "system"
    decision = route(goal)
    assert decision.signals == []
    assert decision.workflow == "plan_then_build"
    assert decision.confidence == BASE_CONFIDENCE


def test_matching_is_case_insensitive():
    assert route("FIX THE TYPO").workflow == "build_only"
    assert route("IMPLEMENT sso").workflow == "plan_then_build"


@pytest.mark.parametrize(
    ("goal", "workflow"),
    [
        ("Fix the platform", "decompose_first"),  # build_only 1 vs decompose_first 1
        ("Add a fix", "plan_then_build"),  # plan_then_build 1 vs build_only 1
        ("Create the system", "decompose_first"),  # plan_then_build 1 vs decompose_first 1
        ("Fix the typo, add a platform system", "decompose_first"),  # 2 vs 1 vs 2: tie at top
        ("Fix the typo, add a test", "build_only"),  # 2 vs 1: no tie, more signals win
    ],
)
def test_ties_go_to_the_larger_scope(goal, workflow):
    assert route(goal).workflow == workflow


def test_confidence_grows_with_winning_signals_and_shrinks_with_others():
    one = route("Fix the header")
    two = route("Fix the typo in the header")
    mixed = route("Fix the typo, add a test")
    assert one.confidence < two.confidence
    assert mixed.confidence < two.confidence
    assert 0.0 < mixed.confidence <= 0.95
    assert all(r.confidence > BASE_CONFIDENCE for r in (one, two))


def test_no_signal_is_plan_then_build_with_low_confidence():
    decision = route("Make the dashboard nicer")
    assert decision.workflow == "plan_then_build"
    assert decision.signals == []
    assert decision.confidence == BASE_CONFIDENCE
    assert decision.confidence < route("Add a dashboard").confidence
    assert "no routing signal" in decision.reason


def test_signals_are_recorded_for_every_match():
    decision = route("Fix the bug and the typo")
    assert decision.workflow == "build_only"
    assert sorted(decision.signals) == sorted(['"fix" -> build_only', '"bug" -> build_only', '"typo" -> build_only'])
    assert decision.complexity == "simple"


def test_complexity_per_workflow():
    assert route("Fix a typo").complexity == "simple"
    assert route("Add OAuth").complexity == "complex"
    assert route("An identity platform").complexity == "huge"


# ── precedence: plans and several tasks ────────────────────────────────


def test_a_pending_plan_the_goal_names_routes_to_build_only_whatever_the_words():
    decision = route("Add a whole new platform: finish task_other", pending_plan_tasks=["task_login", "task_other"])
    assert decision.workflow == "build_only"
    assert decision.task_ids == ["task_other"]
    assert any("pending plan" in s and "task_other" in s for s in decision.signals)


def test_a_pending_plan_the_goal_does_not_name_never_hijacks_it():
    decision = route("Add a double() helper", pending_plan_tasks=["task_login"])
    assert decision.workflow == "plan_then_build"
    assert decision.task_ids == []
    assert not any("task_login" in s for s in decision.signals)
    assert route("Create a billing system for invoices", pending_plan_tasks=["task_oauth"]).workflow == "decompose_first"
    # a task id inside a longer word is not a mention
    assert route("Fix task_login_page", pending_plan_tasks=["task_login"]).task_ids == []


def test_the_chosen_plan_routes_to_build_only_on_it():
    decision = route("Anything at all", pending_plan_tasks=["task_login"], chosen_plan="task_login")
    assert (decision.workflow, decision.task_ids) == ("build_only", ["task_login"])
    assert decision.signals == ["plan chosen: build --plan task_login"]


def test_several_backlog_task_ids_route_to_multi_task():
    decision = route("Do T3 then T1", backlog_task_ids=["T1", "T2", "T3"], pending_plan_tasks=["task_x"])
    assert decision.workflow == "multi_task"
    # several tasks beat an existing plan
    assert set(decision.task_ids) == {"T1", "T3"}
    assert decision.signals


def test_one_backlog_task_id_is_not_multi_task():
    assert route("Fix T1", backlog_task_ids=["T1", "T2"]).workflow == "build_only"


def test_task_ids_must_be_whole_words():
    # "T12" is not "T1"; "T2x" is not "T2"
    assert route("look at T12 and T2x", backlog_task_ids=["T1", "T2"]).workflow != "multi_task"


@pytest.mark.parametrize(
    "goal",
    [
        "1. Fix the header\n2. Add a footer\n3. Refactor the nav",
        "- rate limit login\n- lock accounts",
        "1) one thing; 2) another thing",
    ],
)
def test_an_enumerated_goal_routes_to_multi_task(goal):
    decision = route(goal)
    assert decision.workflow == "multi_task"
    assert decision.complexity == "complex"
    assert any("enumerated" in s for s in decision.signals)


def test_a_single_enumerated_item_is_not_multi_task():
    assert route("1. Fix the header").workflow == "build_only"


# ── the orchestrator runs the routed sequence ──────────────────────────


def _fast_ok_scenario():
    """Every role succeeds at once (no failures) so the sequence is exactly the routed one."""
    plan = {"id": "bp_x", "task_id": "task_x", "summary": "x", "steps": [{"id": 1, "description": "do it"}]}
    return {
        "goal": "Add a thing",
        "planner": {"steps": [{"duration": 0}], "plan": plan},
        "builder": {"steps": {1: {"duration": 0}}},
        "tasks": {
            "T1": {"steps": {1: {"duration": 0}}},
            "T2": {"steps": {1: {"duration": 0}}},
            "T3": {"steps": {1: {"duration": 0}}},
        },
    }


BACKLOG = {
    "epics": [
        {
            "id": "E1",
            "title": "e",
            "features": [
                {
                    "id": "F1",
                    "title": "f",
                    "tasks": [
                        {"id": "T1", "title": "one"},
                        {"id": "T2", "title": "two"},
                        {"id": "T3", "title": "three"},
                    ],
                }
            ],
        }
    ]
}


def _routing(run):
    routed = run.of(ev.RoutingDecided)
    assert len(routed) == 1
    return routed[0]


async def test_build_only_runs_a_builder(write_ws, run_build):
    ws = write_ws(_fast_ok_scenario())
    run = await run_build(ws, "Fix the login typo")
    decided = _routing(run)
    assert decided.workflow == "build_only"
    assert [s.key for s in decided.sequence] == ["builder"]
    assert run.started_agents() == ["builder"]
    assert run.state.status == "completed"
    assert run.state.routing.signals == decided.signals and decided.signals


async def test_plan_then_build_runs_planner_then_builder(write_ws, run_build):
    ws = write_ws(_fast_ok_scenario())
    run = await run_build(ws, "Add a settings page")
    decided = _routing(run)
    assert decided.workflow == "plan_then_build"
    assert [(s.key, s.agent) for s in decided.sequence] == [("planner", "planner"), ("builder", "builder")]
    assert run.started_agents() == ["planner", "builder"]
    assert [e.agent for e in run.of(ev.AgentCompleted)] == ["planner", "builder"]
    assert [a.status for a in run.state.agent_states] == ["completed", "completed"]


async def test_existing_pending_plan_runs_build_only_on_that_task(write_ws, run_build):
    plan = {"id": "bp_p", "task_id": "task_p", "status": "pending", "steps": [{"id": 1, "description": "s"}]}
    ws = write_ws(_fast_ok_scenario(), plans={"task_p": plan})
    run = await run_build(ws, "Add a new thing to task_p")
    decided = _routing(run)
    assert decided.workflow == "build_only"
    assert [(s.key, s.task_id) for s in decided.sequence] == [("builder", "task_p")]
    assert run.started_agents() == ["builder"]
    assert run.tasks[0].plan_path == ws.task_dir("task_p") / "plan.json"


async def test_multi_task_runs_a_builder_per_named_task(write_ws, run_build):
    ws = write_ws(_fast_ok_scenario(), backlog=BACKLOG)
    run = await run_build(ws, "Run T1 and T3")
    decided = _routing(run)
    assert decided.workflow == "multi_task"
    assert [(s.key, s.agent, s.task_id) for s in decided.sequence] == [
        ("builder:T1", "builder", "T1"),
        ("builder:T3", "builder", "T3"),
    ]
    assert run.started_agents() == ["builder:T1", "builder:T3"]
    assert run.state.status == "completed"
    assert run.state.backlog_updates == {"T1": "completed", "T3": "completed"}


async def test_enumerated_goal_runs_its_own_items_not_the_backlog(write_ws, run_build):
    ws = write_ws(_fast_ok_scenario(), backlog=BACKLOG)
    run = await run_build(ws, "1. first\n2. second")
    assert _routing(run).workflow == "multi_task"
    assert run.started_agents() == ["builder:item1", "builder:item2"]
    assert [a.title for a in run.state.agent_states] == ["first", "second"]


async def test_enumerated_goal_needs_no_backlog(write_ws, run_build):
    ws = write_ws(_fast_ok_scenario())
    run = await run_build(ws, "- rename the header\n- add a footer")
    assert run.state.status == "completed"
    assert run.started_agents() == ["builder:item1", "builder:item2"]


async def test_run_backlog_is_multi_task_over_pending_tasks(write_ws, doubles):

    backlog = {"epics": [dict(BACKLOG["epics"][0])]}
    backlog["epics"][0]["features"] = [dict(BACKLOG["epics"][0]["features"][0])]
    backlog["epics"][0]["features"][0]["tasks"] = [
        {"id": "T1", "title": "one", "status": "completed"},
        {"id": "T2", "title": "two"},
        {"id": "T3", "title": "three"},
    ]
    ws = write_ws(_fast_ok_scenario(), backlog=backlog)
    events: list = []
    orch = doubles.make_orchestrator(ws, events=events)
    state = await orch.run_backlog()
    keys = []
    for e in events:
        if isinstance(e, ev.AgentStarted) and e.agent not in keys:
            keys.append(e.agent)
    assert keys == ["builder:T2", "builder:T3"]
    assert state.status == "completed"


async def test_decompose_first_runs_architect_then_planner_and_builder_per_task(example_ws, run_build):
    extended_at: list[int] = []
    architect_done_at: list[int] = []

    def watch(e, s):
        if isinstance(e, ev.SequenceExtended):
            extended_at.append(e.seq)
        if isinstance(e, ev.AgentCompleted) and e.agent == "architect":
            architect_done_at.append(e.seq)

    run = await run_build(example_ws, "Build an identity platform", decider=PolicyDecider("retry"), subscribers=(watch,))
    decided = _routing(run)
    assert decided.workflow == "decompose_first"
    assert decided.complexity == "huge"
    assert [s.key for s in decided.sequence] == ["architect"]
    # the per-task slots are appended only after the architect has run
    assert architect_done_at and extended_at and extended_at[0] > architect_done_at[0]
    extended = run.of(ev.SequenceExtended)[0]
    assert [(s.key, s.agent, s.task_id) for s in extended.sequence] == [
        ("planner:T1", "planner", "T1"),
        ("builder:T1", "builder", "T1"),
        ("planner:T2", "planner", "T2"),
        ("builder:T2", "builder", "T2"),
    ]
    assert run.started_agents() == ["architect", "planner:T1", "builder:T1", "planner:T2", "builder:T2"]
    assert [e.key for e in run.state.routing.agent_sequence] == ["architect", "planner:T1", "builder:T1", "planner:T2", "builder:T2"]
    assert run.state.status == "completed"
    # each builder executed the plan its planner wrote for its task
    builder_tasks = [t for t in run.tasks if t.role == "builder"]
    assert {t.task_id for t in builder_tasks} == {"T1", "T2"}
    for t in builder_tasks:
        assert t.plan_path == example_ws.task_dir(t.task_id) / "plan.json"
        assert t.context["task_id"] == t.task_id
