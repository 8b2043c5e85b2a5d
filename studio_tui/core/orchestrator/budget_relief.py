"""Token accounting and, at CRITICAL, the seed's optimisation steps that relieve the budget."""

from __future__ import annotations

from .. import budget as budget_mod
from .. import events as ev
from .. import safefile
from ..errors import StudioError
from .base import OrchestratorBase


class BudgetRelief(OrchestratorBase):
    async def add_tokens(self, key: str, pool: str, tokens: int, *, estimated: bool = False) -> None:
        if tokens == 0:
            return
        if pool not in self.state.budget.pools:
            if pool not in self._unknown_pools:
                self._unknown_pools.add(pool)
                known = ", ".join(self.state.budget.pools)
                self.emit(
                    ev.AgentLog, agent=key, level="warning", message=f"tokens for unknown pool {pool!r} not counted; pools are: {known}"
                )
            return
        self.emit(ev.TokensUsed, agent=key, pool=pool, tokens=tokens, estimated=estimated)
        self._relieve_pressure(key)

    def _critical_pools(self) -> frozenset[str]:
        budget = self.state.budget
        critical = {name for name, p in budget.pools.items() if budget.level(p.used, p.soft) == "CRITICAL"}
        if budget.total_level == "CRITICAL":
            critical.add("TOTAL")
        return frozenset(critical)

    def _relieve_pressure(self, key: str) -> None:
        """At CRITICAL (the total or a pool), run the seed's optimisation steps in order until it clears.

        A pass runs once per set of critical pools, so a pool no step can relieve (working) does not
        re-run the steps on every token event; a newly critical pool triggers a new pass.
        """
        critical = self._critical_pools()
        if not critical or critical <= self._optimized_for:
            self._optimized_for = critical
            return
        self._optimized_for = critical
        names = ", ".join(sorted(critical))
        self.emit(
            ev.AgentLog, agent="orchestrator", level="warning", message=f"context budget CRITICAL ({names}): optimising before continuing"
        )
        completed = frozenset(self._completed_tasks())
        for name, step in budget_mod.OPTIMIZATION_STEPS:
            done = self.state.budget.optimizations
            inputs = budget_mod.OptimizationInputs(
                root=self.workspace.root,
                context7_in_use=agent.tokens.get("context7", 0) if (agent := self.state.agent(key)) else 0,
                completed_tasks=completed,
                done_steps=frozenset(o.step for o in done),
                pruned_tasks=frozenset(self._pruned_tasks),
            )
            result = step(self.state, inputs)
            if result is None:
                continue
            before = self.state.budget.pools[result.pool].used
            if result.after >= before:
                continue
            self.emit(
                ev.OptimizationApplied,
                step=name,
                pool=result.pool,
                before=before,
                after=result.after,
                detail=result.detail,
                kept_agent=key if name == "clear_context7" else None,
            )
            if name == "prune_plans":
                self._pruned_tasks |= completed
            if not self._critical_pools():
                self._optimized_for = frozenset()
                return
        still = ", ".join(sorted(self._critical_pools()))
        self.emit(ev.AgentLog, agent="orchestrator", level="warning", message=f"still CRITICAL after every optimisation step: {still}")

    def _completed_tasks(self) -> set[str]:
        done: set[str] = set()
        for a in self.state.agent_states:
            task_id = a.task_id or a.output.get("task_id")
            if a.role == "builder" and a.status == "completed" and task_id is not None:
                done.add(str(task_id))
        for path in budget_mod.plan_files(self.workspace.tasks_dir):
            try:
                data = safefile.load_json(path, safefile.PLAN, root=self.workspace.root)
            except StudioError:
                continue
            if isinstance(data, dict) and data.get("status") == "completed":
                done.add(path.parent.name)
        return done
