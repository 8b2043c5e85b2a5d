"""reduce(state, event): the only place orchestration state changes.

`reduce` is pure: it never touches its input. `apply` does the same work in place, for callers
that own their state (the orchestrator, a replay fold) and must not pay for a deep copy per event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from . import events as ev
from .state import (
    BUDGET_HISTORY_LEN,
    AgentState,
    Checkpoint,
    Decision,
    Failure,
    Handoff,
    Optimization,
    OrchestrationState,
    Pool,
    SequenceEntry,
)


def reduce(state: OrchestrationState, event: ev.Event) -> OrchestrationState:
    """A new state with `event` applied; `state` is left as it was."""
    return apply(state.model_copy(deep=True), event)


def fold(events: Iterable[ev.Event], state: OrchestrationState | None = None) -> OrchestrationState:
    """The state after every event in order, starting from `state` (copied) or an empty state."""
    current = OrchestrationState() if state is None else state.model_copy(deep=True)
    for event in events:
        apply(current, event)
    return current


def apply(state: OrchestrationState, event: ev.Event) -> OrchestrationState:
    """Apply one event to `state` in place and return it."""
    handler = _HANDLERS.get(type(event))
    if handler is None:
        state.unknown_events += 1
    else:
        handler(state, event)
    state.seq = event.seq
    state.updated_ts = event.ts
    return state


def _set_sequence_status(state: OrchestrationState, key: str, status: str) -> None:
    entry = state.routing.entry(key)
    if entry is not None:
        entry.status = status


def _agent(state: OrchestrationState, key: str) -> AgentState:
    found = state.agent(key)
    if found is None:
        found = AgentState(agent=key, role=key.split(":", 1)[0])
        state.agent_states.append(found)
        state.routing.agent_sequence.append(SequenceEntry(agent=found.role, key=key))
    return found


def _set_agent_status(state: OrchestrationState, key: str, status: str) -> AgentState:
    agent = _agent(state, key)
    agent.status = status
    _set_sequence_status(state, key, status)
    return agent


def _record_budget(state: OrchestrationState) -> None:
    history = state.budget.history
    history.append(state.budget.used)
    if len(history) > BUDGET_HISTORY_LEN:
        del history[: len(history) - BUDGET_HISTORY_LEN]


def _pool(state: OrchestrationState, name: str) -> Pool:
    pool = state.budget.pools.get(name)
    if pool is None:
        pool = state.budget.pools[name] = Pool()
    return pool


def _started(state: OrchestrationState, e: ev.OrchestrationStarted) -> None:
    state.id = e.orch_id
    state.goal = e.goal
    state.mode = e.mode
    state.workspace = e.workspace
    state.status = "initializing"
    state.started_ts = e.ts
    state.parent_orch_id = e.parent_orch_id
    state.parent_checkpoint_id = e.parent_checkpoint_id


def _status(state: OrchestrationState, e: ev.StatusChanged) -> None:
    if state.pending_decision is not None:
        state.status_before_wait = e.status
    else:
        state.status = e.status


def _routing(state: OrchestrationState, e: ev.RoutingDecided) -> None:
    routing = state.routing
    routing.workflow = e.workflow
    routing.complexity = e.complexity
    routing.confidence = e.confidence
    routing.signals = list(e.signals)
    routing.reason = e.reason
    routing.agent_sequence = [SequenceEntry(agent=slot.agent, key=slot.key, task_id=slot.task_id) for slot in e.sequence]
    state.agent_states = [AgentState(agent=slot.key, role=slot.agent, task_id=slot.task_id, title=slot.title) for slot in e.sequence]


def _extended(state: OrchestrationState, e: ev.SequenceExtended) -> None:
    sequence = state.routing.agent_sequence
    known = {entry.key for entry in sequence}  # one pass in C: a key-index lookup that misses confirms by a scan
    at = len(sequence)  # appended (the usual case), or before the entry named
    if e.insert_before in known:
        at = next(i for i, entry in enumerate(sequence) if entry.key == e.insert_before)
    for slot in e.sequence:
        if slot.key in known:
            continue
        sequence.insert(at, SequenceEntry(agent=slot.agent, key=slot.key, task_id=slot.task_id))
        state.agent_states.insert(at, AgentState(agent=slot.key, role=slot.agent, task_id=slot.task_id, title=slot.title))
        at += 1


def _decision_requested(state: OrchestrationState, e: ev.DecisionRequested) -> None:
    state.decisions.append(
        Decision(
            id=e.decision_id,
            kind=e.kind,
            agent=e.agent,
            prompt=e.prompt,
            details=dict(e.details),
            options=list(e.options),
            asked_ts=e.ts,
        )
    )
    if state.pending_decision is None:
        state.status_before_wait = state.status
    state.pending_decision = e.decision_id
    state.status = "waiting"
    if e.agent and state.agent(e.agent) is not None:
        _set_agent_status(state, e.agent, "waiting")


def _decision_answered(state: OrchestrationState, e: ev.DecisionAnswered) -> None:
    decision = state.decision(e.decision_id)
    if decision is not None:
        decision.answer = e.answer
        decision.by = e.by
        decision.answered_ts = e.ts
        if decision.agent and (agent := state.agent(decision.agent)) and agent.status == "waiting":
            _set_agent_status(state, decision.agent, "active")
    if state.pending_decision == e.decision_id:
        state.pending_decision = None
        state.status = state.status_before_wait or state.status
        state.status_before_wait = None


def _budget_allocated(state: OrchestrationState, e: ev.BudgetAllocated) -> None:
    state.budget.pools = {name: Pool(used=p.used, soft=p.soft) for name, p in e.pools.items()}
    state.budget.warning = e.warning
    state.budget.critical = e.critical
    _record_budget(state)


def _hold(state: OrchestrationState, key: str | None, pool: str, tokens: int) -> None:
    """Move an agent's own per-pool count (agents not in the sequence, like `orchestrator`, hold none)."""
    agent = state.agent(key) if key else None
    if agent is not None:
        agent.tokens[pool] = max(0, agent.tokens.get(pool, 0) + tokens)


def _tokens(state: OrchestrationState, e: ev.TokensUsed) -> None:
    pool = _pool(state, e.pool)
    pool.used = max(0, pool.used + e.tokens)
    if e.estimated:
        pool.estimated = max(0, pool.estimated + e.tokens)
        agent = state.agent(e.agent)
        if agent is not None:
            agent.tokens_estimated[e.pool] = max(0, agent.tokens_estimated.get(e.pool, 0) + e.tokens)
    _hold(state, e.agent, e.pool, e.tokens)
    _record_budget(state)


def _released(state: OrchestrationState, e: ev.BudgetReleased) -> None:
    pool = _pool(state, e.pool)
    pool.used = max(0, pool.used - e.tokens)
    _hold(state, e.agent, e.pool, -e.tokens)
    agent = state.agent(e.agent) if e.agent else None
    if agent is not None and agent.tokens_estimated.get(e.pool):
        freed = min(agent.tokens_estimated[e.pool], e.tokens)
        agent.tokens_estimated[e.pool] -= freed
        pool.estimated = max(0, pool.estimated - freed)
    pool.estimated = min(pool.estimated, pool.used)
    _record_budget(state)


def _optimized(state: OrchestrationState, e: ev.OptimizationApplied) -> None:
    _pool(state, e.pool).used = e.after
    _pool(state, e.pool).estimated = min(_pool(state, e.pool).estimated, e.after)
    if e.step == "clear_context7":
        held = [agent.agent for agent in state.agent_states if agent.agent != e.kept_agent and e.pool in agent.tokens]
        for key in held:  # changed through the lookup, as every agent change is: replay shares agents copy-on-write
            if (agent := state.agent(key)) is not None:
                agent.tokens[e.pool] = 0
    state.budget.optimizations.append(Optimization(step=e.step, pool=e.pool, before=e.before, after=e.after, detail=e.detail, ts=e.ts))
    _record_budget(state)


def _agent_started(state: OrchestrationState, e: ev.AgentStarted) -> None:
    agent = state.agent(e.agent)
    if agent is None:
        agent = AgentState(agent=e.agent, role=e.role, task_id=e.task_id)
        state.agent_states.append(agent)
        state.routing.agent_sequence.append(SequenceEntry(agent=e.role, key=e.agent, task_id=e.task_id))
    _set_agent_status(state, e.agent, "active")
    if e.restart_steps:
        agent.steps_completed = []
        agent.steps_skipped = []
        agent.gates_passed = []
        agent.current_step = 0
        agent.total_steps = 0
    agent.attempts = e.attempt
    if e.mode:
        agent.mode = e.mode
    if e.total_steps:
        agent.total_steps = e.total_steps
    agent.input = dict(e.input)
    agent.started_ts = e.ts
    agent.finished_ts = None


def _agent_step(state: OrchestrationState, e: ev.AgentStep) -> None:
    agent = _agent(state, e.agent)
    if e.total:
        agent.total_steps = e.total
    if e.status == "started":
        agent.gates_passed = []  # the step may change the code: gates passed before it count no more
        agent.current_step = e.step
        agent.step_description = e.description
    elif e.status == "completed":
        if e.step not in agent.steps_completed:
            agent.steps_completed.append(e.step)
    elif e.step not in agent.steps_skipped:
        agent.steps_skipped.append(e.step)


def _agent_completed(state: OrchestrationState, e: ev.AgentCompleted) -> None:
    agent = _set_agent_status(state, e.agent, "completed")
    agent.output = dict(e.output)
    agent.finished_ts = e.ts
    agent.last_error = ""


def _agent_failed(state: OrchestrationState, e: ev.AgentFailed) -> None:
    agent = _set_agent_status(state, e.agent, "failed")
    agent.last_error = e.message
    agent.gates_passed = []  # the next attempt (retry, replan) checks its gates again
    state.failures.append(
        Failure(
            ts=e.ts,
            seq=e.seq,
            agent=e.agent,
            step=e.step,
            category=e.category,
            message=e.message,
            details=e.details,
            attempt=agent.attempts,
        )
    )


def _agent_status(state: OrchestrationState, e: ev.AgentStatus) -> None:
    before = state.agent(e.agent)
    if before is not None and before.status == "completed" and e.status == "pending":
        before.gates_passed = []  # a completed agent re-invoked checks its gates again
    agent = _set_agent_status(state, e.agent, e.status)
    if e.status in ("skipped", "completed", "failed"):
        agent.finished_ts = e.ts


def _recovery(state: OrchestrationState, e: ev.RecoveryDecided) -> None:
    agent = _agent(state, e.agent)
    agent.retries = e.retries_used
    agent.replans = e.replans_used
    for failure in reversed(state.failures):
        if failure.agent == e.agent and not failure.action:
            failure.action = e.action
            break


def _handoff(state: OrchestrationState, e: ev.HandoffRecorded) -> None:
    state.handoffs.append(
        Handoff(
            from_agent=e.from_agent,
            to_agent=e.to_agent,
            context=dict(e.context),
            tokens=e.tokens,
            ts=e.ts,
            seq=e.seq,
        )
    )


def _checkpoint(state: OrchestrationState, e: ev.CheckpointSaved) -> None:
    state.checkpoints.append(Checkpoint(id=e.checkpoint_id, name=e.name, after_agent=e.after_agent, seq=e.seq, ts=e.ts, reason=e.reason))


def _resumed(state: OrchestrationState, e: ev.Resumed) -> None:
    snapshot: OrchestrationState = e.take_state()
    for name in OrchestrationState.model_fields:
        setattr(state, name, getattr(snapshot, name))
    state.resumed_from = [*state.resumed_from, e.checkpoint_id]
    state.resumed_ts = e.ts
    state.pending_decision = None
    state.status_before_wait = None
    state.status = "resuming"
    state.finished_ts = None


def _step_rerun(state: OrchestrationState, e: ev.StepRerun) -> None:
    agent = _agent(state, e.agent)
    if e.step not in agent.reruns:
        agent.reruns.append(e.step)


def _gate_passed(state: OrchestrationState, e: ev.GatePassed) -> None:
    agent = _agent(state, e.agent)
    if e.gate not in agent.gates_passed:
        agent.gates_passed.append(e.gate)


def _learning(state: OrchestrationState, e: ev.LearningCaptured) -> None:
    state.learnings.append(e.path)


def _backlog(state: OrchestrationState, e: ev.BacklogUpdated) -> None:
    state.backlog_updates[e.task_id] = e.status


def _finished(state: OrchestrationState, e: ev.OrchestrationFinished) -> None:
    state.status = e.status
    state.summary = e.summary
    state.finished_ts = e.ts
    state.pending_decision = None
    state.status_before_wait = None


def _agent_session(state: OrchestrationState, e: ev.AgentSession) -> None:
    agent = state.agent(e.agent)
    if agent is not None and e.session_id is not None:
        agent.session_id = e.session_id


def _ignore(state: OrchestrationState, e: Any) -> None:
    """Events that only feed the event log (agent text), not the state."""


def _task_worktree(state: OrchestrationState, e: ev.TaskWorktree) -> None:
    _agent(state, e.agent).branch = e.branch


def _task_dispatched(state: OrchestrationState, e: ev.TaskDispatched) -> None:
    _agent(state, e.agent).worker = e.worker


def _task_merged(state: OrchestrationState, e: ev.TaskMerged) -> None:
    agent = _agent(state, e.agent)
    agent.branch = e.branch
    agent.merged_commit = e.commit


_HANDLERS: dict[type, Callable[[OrchestrationState, Any], None]] = {
    ev.OrchestrationStarted: _started,
    ev.StatusChanged: _status,
    ev.RoutingDecided: _routing,
    ev.SequenceExtended: _extended,
    ev.DecisionRequested: _decision_requested,
    ev.DecisionAnswered: _decision_answered,
    ev.BudgetAllocated: _budget_allocated,
    ev.TokensUsed: _tokens,
    ev.BudgetReleased: _released,
    ev.OptimizationApplied: _optimized,
    ev.AgentStarted: _agent_started,
    ev.AgentStep: _agent_step,
    ev.AgentLog: _ignore,
    ev.AgentCompleted: _agent_completed,
    ev.AgentFailed: _agent_failed,
    ev.AgentStatus: _agent_status,
    ev.RecoveryDecided: _recovery,
    ev.HandoffRecorded: _handoff,
    ev.CheckpointSaved: _checkpoint,
    ev.Resumed: _resumed,
    ev.LearningCaptured: _learning,
    ev.StepRerun: _step_rerun,
    ev.BacklogUpdated: _backlog,
    ev.OrchestrationFinished: _finished,
    ev.AgentSession: _agent_session,
    ev.TaskWorktree: _task_worktree,
    ev.TaskDispatched: _task_dispatched,
    ev.TaskMerged: _task_merged,
    ev.GatePassed: _gate_passed,
}
