"""Where a resume continues: after the last step the log records as completed, or (a rewind) at an older checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import events as ev
from ..reducer import fold
from ..state import Checkpoint, Failure, OrchestrationState
from ..store import CHECKPOINT_ID_RE, CheckpointRecord, Workspace, read_log


@dataclass
class ResumePoint:
    """What the log says about an orchestration, as seen from one of its checkpoints."""

    record: CheckpointRecord
    log_state: OrchestrationState | None
    """The state the whole log folds to (None when the log holds no event)."""
    last_seq: int
    rewind: bool
    """True: the run goes back to `record` (work after it is done again); False: it continues from the log."""
    why: str = ""
    """For a rewind: why it is one, in words for the person."""
    newest_checkpoint: str | None = None
    """The checkpoint a resume that continues the run would name."""
    in_flight: list[tuple[str, int]] = field(default_factory=list)
    """(agent, step) started and never completed nor skipped: the only work a resume does again."""
    unsettled: set[str] = field(default_factory=set)
    """Agents recorded complete whose handoff/checkpoint after completion was not written yet."""
    pending_replans: dict[str, Failure] = field(default_factory=dict)
    """Builder -> the failure whose replan was decided but whose Planner never started."""
    history: list[Checkpoint] = field(default_factory=list)
    """The checkpoints the state had at `record` (from the log: a checkpoint file leaves them out)."""

    @property
    def snapshot(self) -> OrchestrationState:
        if self.rewind or self.log_state is None:
            state = self.record.state
            if not state.checkpoints and self.history:
                state = state.model_copy(update={"checkpoints": list(self.history)})
            return state
        return self.log_state


def _checkpoint_file_exists(workspace: Workspace, orch_id: str, cp_id: str) -> bool:
    return bool(CHECKPOINT_ID_RE.fullmatch(cp_id)) and (workspace.checkpoints_dir(orch_id) / f"{cp_id}.yaml").is_file()


def _planner_for(builder_key: str) -> str:
    suffix = builder_key.partition(":")[2]
    return f"planner:{suffix}" if suffix else "planner"


def find_resume_point(workspace: Workspace, record: CheckpointRecord) -> ResumePoint:
    """Read the log of `record`'s orchestration and decide how resuming from `record` proceeds."""
    orch_id = record.meta.orch_id
    path = workspace.events_path(orch_id)
    events = read_log(path).events if path.exists() else []
    if not events:
        return ResumePoint(record=record, log_state=None, last_seq=0, rewind=False, newest_checkpoint=record.meta.id)
    log_state = fold(events)
    branch = [c.id for c in log_state.checkpoints]
    existing = [cp for cp in branch if _checkpoint_file_exists(workspace, orch_id, cp)]
    newest = existing[-1] if existing else None
    point = ResumePoint(record=record, log_state=log_state, last_seq=events[-1].seq, rewind=False, newest_checkpoint=newest)
    point.history = fold([e for e in events if e.seq <= record.meta.seq]).checkpoints
    if log_state.status == "completed":
        point.rewind = True
        point.why = f"{orch_id} completed; resuming {record.meta.id} ({record.meta.name}) runs it again from there"
    elif record.meta.id not in branch and record.meta.seq > point.last_seq:
        # its file was written, the process died before logging `checkpoint_saved`: the newest there is
        point.newest_checkpoint = record.meta.id
    elif record.meta.id not in branch:
        point.rewind = True
        point.why = f"{record.meta.id} ({record.meta.name}) belongs to work an earlier rewind replaced"
    elif record.meta.id != newest:
        point.rewind = True
        point.why = (
            f"{record.meta.id} ({record.meta.name}) is older than the newest checkpoint {newest}; the work recorded after it is done again"
        )
    if point.rewind:
        return point
    _scan(point, events, log_state)
    return point


def _scan(point: ResumePoint, events: list[ev.Event], state: OrchestrationState) -> None:
    """In-flight steps, unsettled completions and undone replans, from the log since the last rewind."""
    start = 0
    for index, event in enumerate(events):
        if isinstance(event, ev.Resumed) and event.rewind:
            start = index + 1
    completed_at: dict[str, int] = {}
    settled_at: dict[str, int] = {}
    started_at: dict[str, int] = {}
    replan_at: dict[str, int] = {}
    for event in events[start:]:
        if isinstance(event, ev.AgentCompleted):
            completed_at[event.agent] = event.seq
        elif isinstance(event, ev.CheckpointSaved) and event.reason == "agent_completed" and event.after_agent:
            settled_at[event.after_agent] = event.seq
        elif isinstance(event, ev.AgentStarted):
            started_at[event.agent] = event.seq
        elif isinstance(event, ev.RecoveryDecided):
            if event.action == "replan":
                replan_at[event.agent] = event.seq
            else:
                replan_at.pop(event.agent, None)
    for agent in state.agent_states:
        if agent.status == "completed" and completed_at.get(agent.agent, -1) > settled_at.get(agent.agent, -1):
            point.unsettled.add(agent.agent)
        if agent.status in ("active", "waiting") and agent.current_step:
            step = agent.current_step
            if step not in agent.steps_completed and step not in agent.steps_skipped:
                point.in_flight.append((agent.agent, step))
    for builder, seq in replan_at.items():
        failed = state.agent(builder)
        if failed is None or failed.status != "failed":
            continue
        if started_at.get(_planner_for(builder), -1) > seq:
            continue
        failures = [f for f in state.failures if f.agent == builder]
        if failures:
            point.pending_replans[builder] = failures[-1]
