"""Context budget: thresholds, workspace measurement, the seed's table, and optimisation under pressure."""

from __future__ import annotations

import pytest

from studio_tui.core import budget as budget_mod
from studio_tui.core import events as ev
from studio_tui.core.budget import (
    OPTIMIZATION_STEPS,
    OptimizationInputs,
    budget_table,
    estimate_tokens,
    measure_workspace,
    pressure,
)
from studio_tui.core.config import DEFAULT_POOLS, BudgetConfig
from studio_tui.core.reducer import apply
from studio_tui.core.state import Budget, OrchestrationState, Pool

# ── thresholds ──────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("used", "level"),
    [(0, "OK"), (799, "OK"), (800, "WARNING"), (949, "WARNING"), (950, "CRITICAL"), (1000, "CRITICAL"), (5000, "CRITICAL")],
)
def test_default_thresholds(used, level):
    assert Budget().level(used, 1000) == level


def test_thresholds_are_configurable():
    b = Budget(warning=0.5, critical=0.6)
    assert [b.level(u, 100) for u in (49, 50, 59, 60)] == ["OK", "WARNING", "WARNING", "CRITICAL"]


def test_zero_soft_limit():
    assert Budget().level(0, 0) == "OK"
    assert Budget().level(1, 0) == "CRITICAL"


def test_config_defaults_are_the_seeds():
    config = BudgetConfig()
    assert config.warning == 0.8 and config.critical == 0.95
    assert list(config.pools) == ["reserved", "learnings", "backlog", "plans", "context7", "working"]
    assert config.pools == DEFAULT_POOLS
    assert sum(config.pools.values()) == 150000


def test_pressure_is_the_worst_of_total_and_pools():
    state = OrchestrationState()
    state.budget.pools = {"a": Pool(used=10, soft=100), "b": Pool(used=10, soft=1000)}
    assert pressure(state) == "OK"
    state.budget.pools["a"].used = 85  # one pool at WARNING while the total is low
    assert pressure(state) == "WARNING"
    state.budget.pools["a"].used = 96
    assert pressure(state) == "CRITICAL"
    assert state.budget.total_level == "OK"


# ── measuring the workspace ─────────────────────────────────────────────


@pytest.mark.parametrize(("n", "tokens"), [(0, 0), (1, 1), (3, 1), (4, 1), (5, 2), (8, 2), (9, 3), (4001, 1001)])
def test_estimate_tokens_is_four_bytes_rounded_up(n, tokens):
    assert estimate_tokens(n) == tokens


def test_measure_workspace_from_files(tmp_path):
    root = tmp_path / ".studio"
    (root / "learnings").mkdir(parents=True)
    (root / "learnings" / "a.md").write_bytes(b"x" * 5)  # 2 tokens
    (root / "learnings" / "b.md").write_bytes(b"x" * 8)  # 2 tokens
    (root / "learnings" / "ignored.txt").write_bytes(b"x" * 400)  # not a learnings entry
    (root / "backlog.yaml").write_bytes(b"y" * 9)  # 3 tokens
    for task, size in (("t1", 13), ("t2", 4)):  # 4 + 1 tokens
        (root / "tasks" / task).mkdir(parents=True)
        (root / "tasks" / task / "plan.json").write_bytes(b"{" * size)
    (root / "tasks" / "t3").mkdir()
    (root / "tasks" / "t3" / "notes.md").write_bytes(b"z" * 100)  # not a plan
    pools = measure_workspace(root, BudgetConfig(reserved_tokens=1234))
    got = {name: (p.used, p.soft) for name, p in pools.items()}
    assert got == {
        "reserved": (1234, 30000),
        "learnings": (4, 20000),
        "backlog": (3, 15000),
        "plans": (5, 30000),
        "context7": (0, 25000),
        "working": (0, 30000),
    }


def test_measure_empty_workspace_and_custom_pools(tmp_path):
    pools = measure_workspace(tmp_path, BudgetConfig(pools={"reserved": 100, "scratch": 50}, reserved_tokens=10))
    assert {n: (p.used, p.soft) for n, p in pools.items()} == {"reserved": (10, 100), "scratch": (0, 50)}


def test_example_allocation_matches_its_files(example_ws, doubles):
    root = example_ws.root
    pools = measure_workspace(root, example_ws.config().budget)
    learn = sum(-(-p.stat().st_size // 4) for p in (root / "learnings").glob("*.md"))
    assert pools["learnings"].used == learn > 0
    assert pools["backlog"].used == -(-(root / "backlog.yaml").stat().st_size // 4)
    assert pools["reserved"].used == example_ws.config().budget.reserved_tokens


# ── the table ───────────────────────────────────────────────────────────


def test_budget_table_rows_and_total_like_the_seed():
    state = OrchestrationState()
    seed = [
        ("reserved", 28000, 30000),
        ("learnings", 15000, 20000),
        ("backlog", 8000, 15000),
        ("plans", 0, 30000),
        ("context7", 12000, 25000),
        ("working", 0, 30000),
    ]
    state.budget.pools = {n: Pool(used=u, soft=s) for n, u, s in seed}
    rows = budget_table(state)
    assert [r[:3] for r in rows[:-1]] == seed
    assert rows[-1] == ("TOTAL", 63000, 150000, "OK (42%)")
    # per-pool status uses the same thresholds (reserved is at 93%)
    assert {r[0]: r[3] for r in rows[:-1]} == {
        "reserved": "WARNING",
        "learnings": "OK",
        "backlog": "OK",
        "plans": "OK",
        "context7": "OK",
        "working": "OK",
    }


def test_budget_table_total_levels():
    state = OrchestrationState()
    state.budget.pools = {"a": Pool(used=81, soft=100)}
    assert budget_table(state)[-1] == ("TOTAL", 81, 100, "WARNING (81%)")
    state.budget.pools["a"].used = 120
    assert budget_table(state)[-1] == ("TOTAL", 120, 100, "CRITICAL (120%)")
    assert budget_table(OrchestrationState())[-1] == ("TOTAL", 0, 0, "OK (0%)")


# ── optimisation steps ──────────────────────────────────────────────────


def test_optimisation_steps_are_in_the_seeds_order():
    assert [name for name, _ in OPTIMIZATION_STEPS] == ["summarize_learnings", "archive_learnings", "clear_context7", "prune_plans"]


def test_summarize_keeps_headings_and_first_lines():
    text = "# Title\nfirst line\nsecond line\n\n## Sub\n\nsub first\nsub second\n"
    assert budget_mod.summarize(text) == "# Title\nfirst line\n## Sub\nsub first"


def test_clear_context7_keeps_what_the_running_agent_uses(tmp_path):
    state = OrchestrationState()
    state.budget.pools = {"context7": Pool(used=20000, soft=25000)}
    step = dict(OPTIMIZATION_STEPS)["clear_context7"]
    result = step(state, OptimizationInputs(root=tmp_path, context7_in_use=3000))
    assert result is not None and (result.pool, result.after) == ("context7", 3000)
    assert step(state, OptimizationInputs(root=tmp_path, context7_in_use=20000)) is None


def test_prune_plans_only_prunes_completed_tasks(tmp_path):
    for task, size in (("done", 400), ("open", 800)):
        (tmp_path / "tasks" / task).mkdir(parents=True)
        (tmp_path / "tasks" / task / "plan.json").write_bytes(b"x" * size)
    state = OrchestrationState()
    state.budget.pools = {"plans": Pool(used=300, soft=1000)}
    step = dict(OPTIMIZATION_STEPS)["prune_plans"]
    result = step(state, OptimizationInputs(root=tmp_path, completed_tasks=frozenset({"done"})))
    assert result is not None and result.after == 300 - 100
    assert "done" in result.detail and "open" not in result.detail
    assert step(state, OptimizationInputs(root=tmp_path, completed_tasks=frozenset({"done"}), pruned_tasks=frozenset({"done"}))) is None


def test_learnings_tiers_run_once_each(example_ws):
    state = OrchestrationState()
    state.budget.pools = {"learnings": Pool(used=5000, soft=20000)}
    steps = dict(OPTIMIZATION_STEPS)
    first = steps["summarize_learnings"](state, OptimizationInputs(root=example_ws.root))
    assert first is not None and 0 < first.after < 5000
    done = frozenset({"summarize_learnings"})
    assert steps["summarize_learnings"](state, OptimizationInputs(root=example_ws.root, done_steps=done)) is None
    second = steps["archive_learnings"](state, OptimizationInputs(root=example_ws.root, done_steps=done))
    assert second is not None and second.after < 5000
    both = frozenset({"summarize_learnings", "archive_learnings"})
    assert steps["archive_learnings"](state, OptimizationInputs(root=example_ws.root, done_steps=both)) is None


# ── orchestrator level ──────────────────────────────────────────────────


def _replay_pressure(events):
    """(event, pressure before it, pressure after it, state after it) for each event, by the reducer."""
    state = OrchestrationState()
    out = []
    for e in events:
        before = pressure(state)
        apply(state, e)
        out.append((e, before, pressure(state), state.model_copy(deep=True)))
    return out


def test_example_run_optimises_in_the_seeds_order_and_leaves_critical(example_completed):
    run = example_completed
    opts = run.of(ev.OptimizationApplied)
    assert [o.step for o in opts] == ["summarize_learnings", "archive_learnings", "clear_context7"]
    for o in opts:
        assert o.after < o.before, o
        assert o.detail
    assert [o.pool for o in opts] == ["learnings", "learnings", "context7"]
    seen = _replay_pressure(run.events)
    first = next(i for i, (e, _, _, _) in enumerate(seen) if e.type == "optimization_applied")
    last = max(i for i, (e, _, _, _) in enumerate(seen) if e.type == "optimization_applied")
    # the pass started because something was CRITICAL ...
    assert seen[first][1] == "CRITICAL"
    # ... the steps ran back to back, and the pass stopped as soon as nothing was CRITICAL
    assert [e.type for e, *_ in seen[first : last + 1]] == ["optimization_applied"] * len(opts)
    assert [after for _, _, after, _ in seen[first:last]] == ["CRITICAL"] * (len(opts) - 1)
    assert seen[last][2] != "CRITICAL"
    # each event set its pool to `after`
    for e, _, _, state in seen[first : last + 1]:
        assert state.budget.pools[e.pool].used == e.after
    assert all(p.used < p.soft * run.state.budget.critical for p in run.state.budget.pools.values())
    assert [(o.step, o.before, o.after) for o in run.state.budget.optimizations] == [(o.step, o.before, o.after) for o in opts]
    # a CRITICAL warning was logged just before optimising
    assert seen[first - 1][0].type == "agent_log" and "CRITICAL" in seen[first - 1][0].message
    # and nothing ever stayed CRITICAL after the pass
    assert all(after != "CRITICAL" for _, _, after, _ in seen[last:])


async def test_no_optimisation_without_pressure(write_ws, run_build, doubles):
    ws = write_ws(doubles.builder_scenario({1: {"tokens": {"working": 100, "context7": 100}}}))
    run = await run_build(ws)
    assert run.state.status == "completed"
    assert run.of(ev.OptimizationApplied) == []


async def test_tokens_are_counted_and_working_is_released_when_an_agent_finishes(write_ws, run_build, doubles):
    ws = write_ws(doubles.builder_scenario({1: {"tokens": {"working": 700}}, 2: {"tokens": {"working": 300, "context7": 50}}}))
    run = await run_build(ws)
    used = run.of(ev.TokensUsed)
    assert [(t.pool, t.tokens) for t in used] == [("working", 700), ("working", 300), ("context7", 50)]
    released = run.of(ev.BudgetReleased)
    assert [(r.pool, r.tokens) for r in released] == [("working", 1000)]
    assert run.state.budget.pools["working"].used == 0
    assert run.state.budget.pools["context7"].used == 50


async def test_configured_thresholds_trigger_optimisation(write_ws, run_build):
    # pools of 1000 with critical at 0.5: the planner's 400 context7 tokens plus the builder's 200 make
    # context7 CRITICAL (60%), which the default 95% would not; clearing the planner's docs relieves it
    plan = {"id": "bp_c", "task_id": "task_c", "steps": [{"id": 1, "description": "one"}, {"id": 2, "description": "two"}]}
    scenario = {
        "goal": "Add it",
        "planner": {"steps": [{"duration": 0, "tokens": {"context7": 400}}], "plan": plan},
        "builder": {"steps": {1: {"duration": 0, "tokens": {"context7": 200}}, 2: {"duration": 0}}},
    }
    pools = {"reserved": 1000, "learnings": 1000, "backlog": 1000, "plans": 1000, "context7": 1000, "working": 1000}
    ws = write_ws(scenario, config={"budget": {"warning": 0.4, "critical": 0.5, "reserved_tokens": 0, "pools": pools}})
    run = await run_build(ws)
    allocated = run.of(ev.BudgetAllocated)[0]
    assert (allocated.warning, allocated.critical) == (0.4, 0.5)
    opts = run.of(ev.OptimizationApplied)
    assert [(o.step, o.pool, o.before, o.after) for o in opts] == [("clear_context7", "context7", 600, 200)]
    assert run.state.budget.level(200, 1000) == "OK"
    assert run.state.status == "completed"


async def test_default_thresholds_do_not_optimise_at_sixty_percent(write_ws, run_build):
    plan = {"id": "bp_c", "task_id": "task_c", "steps": [{"id": 1, "description": "one"}]}
    scenario = {
        "goal": "Add it",
        "planner": {"steps": [{"duration": 0, "tokens": {"context7": 400}}], "plan": plan},
        "builder": {"steps": {1: {"duration": 0, "tokens": {"context7": 200}}}},
    }
    pools = {"reserved": 1000, "learnings": 1000, "backlog": 1000, "plans": 1000, "context7": 1000, "working": 1000}
    ws = write_ws(scenario, config={"budget": {"reserved_tokens": 0, "pools": pools}})
    run = await run_build(ws)
    assert run.of(ev.OptimizationApplied) == []
