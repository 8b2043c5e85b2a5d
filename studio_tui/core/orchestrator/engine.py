"""The Orchestrator: its entry points (build, resume, attach, re-run) and how a run ends."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable
from typing import Any

from .. import events as ev
from .. import safefile
from ..errors import InputError
from ..plan import load_backlog
from ..reducer import fold
from ..state import OrchestrationState
from ..store import CheckpointRecord, read_log
from .budget_relief import BudgetRelief
from .checkpointing import Checkpointing
from .common import RunStopped, check_chosen_plan, preflight
from .decisions import Decisions
from .finalize import Finalize
from .recovery_flow import RecoveryFlow
from .resume_point import ResumePoint, find_resume_point
from .slots import Slots
from .workflow import Workflow


class Orchestrator(Workflow, Slots, RecoveryFlow, Decisions, BudgetRelief, Checkpointing, Finalize):
    """One orchestration, driven in this process; holds its state and appends to its log."""

    # ── entry points ─────────────────────────────────────────────────────

    async def build(self, goal: str, *, mode: str = "implicit", plan: str | None = None) -> OrchestrationState:
        """Start a new orchestration for `goal` and run it to the end (`plan`: build that task's pending plan)."""
        if not goal.strip():
            raise InputError('the goal is empty: say what to build, e.g. studio-tui build "Fix login typo"')
        preflight(self.workspace)
        if plan is not None:
            check_chosen_plan(self.workspace, plan)
        self._chosen_plan = plan
        from . import new_orch_id  # looked up on the package: tests and the screenshot script fix the ids there

        orch_id = new_orch_id(self.clock())
        self.workspace.orch_dir(orch_id).mkdir(parents=True, exist_ok=False)
        self._open(orch_id)
        self.emit(ev.OrchestrationStarted, goal=goal, mode=mode, workspace=str(self.workspace.root))
        return await self._guarded(self._fresh_run)

    async def resume(self, record: CheckpointRecord, *, point: ResumePoint | None = None) -> OrchestrationState:
        """Continue an orchestration, appending to the same log.

        From its newest checkpoint the run continues after the last step its log records as completed
        (only a step in flight re-runs, marked so); from an older one it rewinds to that checkpoint,
        whose files are put back.
        """
        preflight(self.workspace)
        point = point or find_resume_point(self.workspace, record)
        orch_id = record.meta.orch_id
        self.state = OrchestrationState(id=orch_id, seq=point.last_seq)
        self._open(orch_id)
        ended = self._end_survivors()
        restored = self._restore_files(record) if point.rewind else []
        snapshot = point.snapshot
        self.emit(ev.Resumed, checkpoint_id=record.meta.id, snapshot=snapshot.to_dict(), rewind=point.rewind)
        if self._damaged_state is not None:
            self.emit(
                ev.AgentLog,
                agent="orchestrator",
                level="warning",
                message=f"state.yaml did not load; kept as {self._damaged_state.name} and rewritten from the log",
            )
        for line in ended:
            self.emit(ev.AgentLog, agent="orchestrator", level="warning", message=line)
        if point.rewind:
            self.emit(ev.AgentLog, agent="orchestrator", level="warning", message=f"rewind: {point.why}")
        if restored:
            self.emit(ev.AgentLog, agent="orchestrator", message=f"files restored from {record.meta.id}: {', '.join(restored)}")
        for key, step in point.in_flight:
            self.emit(ev.StepRerun, agent=key, step=step, reason="it was in flight when the run stopped")
        for agent in self.state.agent_states:
            if agent.status in ("active", "waiting", "failed"):
                self.emit(ev.AgentStatus, agent=agent.agent, status="pending", reason=f"resumed from {record.meta.id}")
        self._unsettled = set(point.unsettled)
        self._pending_replans = dict(point.pending_replans)
        return await self._guarded(self._continue_run)

    async def fork(self, record: CheckpointRecord, *, goal: str | None = None) -> OrchestrationState:
        """Start a new orchestration from `record`'s state and files (time travel), its parent recorded."""
        preflight(self.workspace)
        from . import new_orch_id

        goal = goal if goal is not None and goal.strip() else record.state.goal
        orch_id = new_orch_id(self.clock())
        self.workspace.orch_dir(orch_id).mkdir(parents=True, exist_ok=False)
        self._open(orch_id)
        restored = self._restore_files(record)
        parent: dict[str, Any] = {"parent_orch_id": record.meta.orch_id, "parent_checkpoint_id": record.meta.id}
        self.emit(ev.OrchestrationStarted, goal=goal, mode=record.state.mode, workspace=str(self.workspace.root), **parent)
        snapshot = record.state.model_copy(deep=True, update={"id": orch_id, "goal": goal, **parent})
        self.emit(ev.Resumed, checkpoint_id=record.meta.id, snapshot=snapshot.to_dict(), rewind=True)
        self.emit(ev.AgentLog, agent="orchestrator", message=f"forked from {record.meta.id} ({record.meta.name}) of {record.meta.orch_id}")
        if restored:
            self.emit(ev.AgentLog, agent="orchestrator", message=f"files restored from {record.meta.id}: {', '.join(restored)}")
        for agent in self.state.agent_states:
            if agent.status in ("active", "waiting", "failed"):
                self.emit(ev.AgentStatus, agent=agent.agent, status="pending", reason=f"forked from {record.meta.id}")
        return await self._guarded(self._continue_run)

    def attach(self, orch_id: str) -> OrchestrationState:
        """Take up an existing orchestration (state folded from its log) to append to it."""
        read = read_log(self.workspace.events_path(orch_id))
        if not read.events:
            raise InputError(f"{self.workspace.events_path(orch_id)}: no events to continue from")
        self.state = fold(read.events)
        self._open(orch_id)
        return self.state

    def record_handoff(self, from_key: str, to_key: str, context: dict[str, Any]) -> ev.HandoffRecorded:
        """A handoff given by hand (`studio-tui handoff FROM TO JSON`)."""
        handoff = self._handoff(from_key, to_key, context)
        assert handoff is not None, "without `once` a handoff is always recorded"
        return handoff

    async def rerun_agent(self, orch_id: str, key: str) -> OrchestrationState:
        """Re-invoke one agent (same input, next attempt), then continue the run from there."""
        self.attach(orch_id)
        agent = self.state.agent(key)
        if agent is None:
            known = ", ".join(a.agent for a in self.state.agent_states) or "none routed yet"
            self.close()
            raise InputError(f"unknown agent {key!r} in {orch_id}; agents: {known}")
        self.emit(ev.AgentStatus, agent=key, status="pending", reason="re-invoked by agent-start")
        for later in self.state.agent_states[self.state.agent_states.index(agent) + 1 :]:
            if later.status in ("active", "waiting", "failed"):
                self.emit(ev.AgentStatus, agent=later.agent, status="pending", reason="re-invoked by agent-start")
        return await self._guarded(self._continue_run)

    async def _guarded(self, body: Callable[[], Any]) -> OrchestrationState:
        """Run `body`; turn stops and interruptions into their final events, saving a checkpoint on Ctrl-C.

        Checkpoint requests still waiting are saved before the run ends. A full or read-only disk
        (DiskError) stops the run: an `interrupted` checkpoint if there is room, then the error."""
        disk_failed = False
        try:
            await body()
            self._take_requests()
        except RunStopped as stop:
            self._take_requests()
            self.emit(ev.OrchestrationFinished, status=stop.status, summary=stop.summary)
        except asyncio.CancelledError:
            self._interrupted()
            raise
        except safefile.DiskError as exc:
            disk_failed = True
            self._stopped_by_disk(exc)
            raise
        except InputError as exc:
            self.emit(ev.AgentLog, agent="orchestrator", level="error", message=str(exc))
            self.checkpoint("failed", reason="error")
            self.emit(ev.OrchestrationFinished, status="failed", summary=str(exc))
        except Exception as exc:  # a bug or an OS error: keep the work, say what happened
            self.emit(ev.AgentLog, agent="orchestrator", level="error", message=traceback.format_exc())
            self.checkpoint("crashed", reason="error")
            self.emit(ev.OrchestrationFinished, status="failed", summary=f"{type(exc).__name__}: {exc}")
        finally:
            try:
                self.close()
            except safefile.DiskError:
                if not disk_failed:
                    raise
        return self.state

    def _stopped_by_disk(self, exc: safefile.DiskError) -> None:
        """Best effort on a disk that refuses writes: each step may fail too, and that is fine."""
        for step in (
            lambda: self.checkpoint("interrupted", reason="disk_error"),
            lambda: self.emit(ev.OrchestrationFinished, status="interrupted", summary=f"stopped: {exc}"),
        ):
            try:
                step()
            except safefile.DiskError:
                return

    def _interrupted(self) -> None:
        if self.state.finished:
            return
        self._take_requests()
        self.checkpoint("interrupted", reason="interrupt")
        self.emit(ev.OrchestrationFinished, status="interrupted", summary="interrupted; resume from the last checkpoint")

    async def run_backlog(self) -> OrchestrationState:
        """multi_task over every pending backlog task, in order."""
        backlog = load_backlog(self.workspace.backlog_path, root=self.workspace.root)
        pending = [t.id for t in backlog.pending()]
        if not pending:
            raise InputError(f"{self.workspace.backlog_path}: no pending tasks to run")
        goal = "Run backlog: " + ", ".join(pending)
        return await self.build(goal)
