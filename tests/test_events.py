"""The event union and its JSONL codec; the append-only log reader and writer."""

from __future__ import annotations

import json

import pytest

from studio_tui.core import events as ev
from studio_tui.core.reducer import fold
from studio_tui.core.store import EventLogWriter, read_log

BASE = {"seq": 7, "ts": 1_800_000_000.125, "orch_id": "orch_20270115_080000_abcd"}

SAMPLES: dict[str, ev.Event] = {
    "orchestration_started": ev.OrchestrationStarted(**BASE, goal="Add OAuth", mode="explicit", workspace="/w/.studio"),
    "status_changed": ev.StatusChanged(**BASE, status="executing", reason="go"),
    "routing_decided": ev.RoutingDecided(
        **BASE,
        workflow="plan_then_build",
        complexity="complex",
        confidence=0.75,
        signals=['"add" -> plan_then_build'],
        reason="1 signal",
        sequence=[ev.SlotSpec(key="planner", agent="planner"), ev.SlotSpec(key="builder:T1", agent="builder", task_id="T1")],
    ),
    "sequence_extended": ev.SequenceExtended(
        **BASE, sequence=[ev.SlotSpec(key="planner:T1", agent="planner", task_id="T1")], insert_before="builder"
    ),
    "decision_requested": ev.DecisionRequested(
        **BASE,
        decision_id="d7",
        kind="escalation",
        agent="builder",
        prompt="Build failed",
        details={"step": 5, "nested": {"a": [1, 2]}},
        options=["retry", "skip", "abort"],
    ),
    "decision_answered": ev.DecisionAnswered(**BASE, decision_id="d7", kind="escalation", answer="skip", by="policy"),
    "budget_allocated": ev.BudgetAllocated(**BASE, pools={"reserved": ev.PoolSpec(used=28000, soft=30000)}, warning=0.7, critical=0.9),
    "tokens_used": ev.TokensUsed(**BASE, agent="builder", pool="working", tokens=-40),
    "budget_released": ev.BudgetReleased(**BASE, pool="working", tokens=1200, reason="done", agent="builder"),
    "optimization_applied": ev.OptimizationApplied(
        **BASE, step="clear_context7", pool="context7", before=26000, after=10000, detail="d", kept_agent="builder"
    ),
    "agent_started": ev.AgentStarted(
        **BASE,
        agent="builder:T1",
        role="builder",
        attempt=3,
        task_id="T1",
        total_steps=6,
        input={"k": "v"},
        restart_steps=True,
        mode="replan",
    ),
    "agent_step": ev.AgentStep(**BASE, agent="builder", step=2, total=6, description="schema", status="skipped"),
    "agent_log": ev.AgentLog(**BASE, agent="builder", level="warning", message="line1\nline2 \x1b[31m"),
    "agent_completed": ev.AgentCompleted(**BASE, agent="planner", output={"plan_id": "bp", "n": 1.5}),
    "agent_failed": ev.AgentFailed(**BASE, agent="builder", step=3, category="design_flaw", message="bad", details="TypeError"),
    "agent_status": ev.AgentStatus(**BASE, agent="builder", status="pending", reason="resumed"),
    "recovery_decided": ev.RecoveryDecided(
        **BASE, agent="builder", step=3, category="transient", action="retry", retries_used=2, replans_used=1, reason="r"
    ),
    "handoff": ev.HandoffRecorded(**BASE, **{"from": "planner", "to": "builder"}, context={"task_id": "t"}, tokens=12),
    "checkpoint_saved": ev.CheckpointSaved(
        **BASE, checkpoint_id="cp_1800000000", name="planner_complete", after_agent="planner", reason="agent_completed"
    ),
    "resumed": ev.Resumed(**BASE, checkpoint_id="cp_1800000000", snapshot={"orchestration_state": {"id": "x", "status": "waiting"}}),
    "learning_captured": ev.LearningCaptured(**BASE, path="learnings/x.md", summary="s"),
    "backlog_updated": ev.BacklogUpdated(**BASE, task_id="T1", status="completed"),
    "orchestration_finished": ev.OrchestrationFinished(**BASE, status="halted", summary="stop"),
    "tool_call": ev.ToolCallRecorded(
        **BASE,
        agent="builder",
        tool_call_id="t1",
        title="Edit a.py",
        kind="edit",
        status="completed",
        raw_input={"path": "a.py"},
        locations=["a.py"],
        content=[
            ev.ToolContent(kind="diff", path="a.py", old_text="x = 1\n", new_text="x = 2\n"),
            ev.ToolContent(kind="terminal", terminal_id="term_1"),
        ],
    ),
    "terminal_output": ev.TerminalOutput(
        **BASE, agent="builder", terminal_id="term_1", command="pytest -q", output="1 passed\n", exit_code=0, done=True
    ),
    "agent_stderr": ev.AgentStderr(**BASE, agent="builder", path="stderr/builder.log", lines=227, dropped=0),
    "step_rerun": ev.StepRerun(**BASE, agent="builder", step=4, reason="in flight when the run stopped"),
    "agent_session": ev.AgentSession(
        **BASE,
        agent="builder",
        session_id="s1",
        protocol_version=1,
        auth_methods=["claude-login"],
        modes=["default", "plan"],
        current_mode="default",
        commands=["init"],
        capabilities={"loadSession": True},
    ),
    "task_worktree": ev.TaskWorktree(
        **BASE, agent="builder:T1", task_id="T1", branch="studio/orch_x/T1", path=".studio/worktrees/orch_x/T1", base="0123abcd"
    ),
    "task_dispatched": ev.TaskDispatched(
        **BASE, agent="builder:T1", task_id="T1", engine="dask", worker="tcp://127.0.0.1:40123", attempt=2
    ),
    "task_merged": ev.TaskMerged(
        **BASE, agent="builder:T1", task_id="T1", branch="studio/orch_x/T1", how="fast-forward", commit="4567ef01"
    ),
    "gate_passed": ev.GatePassed(**BASE, agent="builder", gate="tests", command="pytest -q", attempt=2),
}


def test_samples_cover_every_known_event_type():
    assert set(SAMPLES) == set(ev.KNOWN_TYPES)
    for kind, sample in SAMPLES.items():
        assert sample.type == kind


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_codec_round_trip(kind):
    event = SAMPLES[kind]
    line = ev.encode(event)
    assert "\n" not in line
    back = ev.decode(line)
    assert type(back) is type(event)
    assert back == event
    assert ev.encode(back) == line
    # bytes decode the same
    assert ev.decode(line.encode()) == event


def test_handoff_is_encoded_with_the_seeds_from_and_to():
    raw = json.loads(ev.encode(SAMPLES["handoff"]))
    assert raw["from"] == "planner" and raw["to"] == "builder"
    assert "from_agent" not in raw and "to_agent" not in raw


def test_every_line_carries_seq_ts_orch_id_and_type():
    for event in SAMPLES.values():
        raw = json.loads(ev.encode(event))
        assert {"seq", "ts", "orch_id", "type"} <= set(raw)


def test_unknown_type_is_kept_not_fatal():
    line = json.dumps({"type": "telemetry_v9", "seq": 3, "ts": 1.5, "orch_id": "o", "payload": {"x": [1, 2]}})
    event = ev.decode(line)
    assert isinstance(event, ev.UnknownEvent)
    assert event.type == "telemetry_v9" and event.seq == 3
    assert json.loads(ev.encode(event))["payload"] == {"x": [1, 2]}
    state = fold([SAMPLES["orchestration_started"], event, event.model_copy(update={"seq": 9})])
    assert state.unknown_events == 2
    assert state.seq == 9
    assert state.goal == "Add OAuth"


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("not json at all", "not JSON"),
        ('{"type": "agent_log", "agent": "b", "message": "m"', "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ("42", "not a JSON object"),
        ('{"seq": 1}', "missing 'type'"),
        ('{"type": ""}', "missing 'type'"),
        ('{"type": 5}', "missing 'type'"),
        ('{"type": "agent_failed", "agent": "b", "category": "bogus", "message": "m"}', "category"),
        ('{"type": "agent_step", "agent": "b", "step": "three"}', "step"),
        ('{"type": "tokens_used", "agent": "b", "pool": "w"}', "tokens"),
        (b"\xff\xfe{", "not JSON"),
    ],
)
def test_malformed_lines_raise_event_decode_error(line, needle):
    with pytest.raises(ev.EventDecodeError) as info:
        ev.decode(line)
    assert needle in str(info.value)


def test_event_decode_error_is_a_value_error():
    assert issubclass(ev.EventDecodeError, ValueError)


# ── the log on disk ─────────────────────────────────────────────────────


def test_writer_and_reader_round_trip(tmp_path):
    path = tmp_path / "o" / "events.jsonl"
    writer = EventLogWriter(path)
    events = [SAMPLES[k].model_copy(update={"seq": i}) for i, k in enumerate(sorted(SAMPLES), start=1)]
    for e in events:
        writer.append(e)
    writer.sync()
    writer.close()
    read = read_log(path)
    assert read.bad_lines == []
    assert read.events == events
    assert path.read_text().count("\n") == len(events)


def test_reader_skips_bad_lines_and_reports_a_torn_tail(tmp_path):
    path = tmp_path / "events.jsonl"
    good = [ev.encode(SAMPLES["status_changed"].model_copy(update={"seq": n})) for n in (1, 2, 3)]
    path.write_text(f'{good[0]}\nnot json\n\n{good[1]}\n{{"type": "agent_step"}}\n{good[2]}\n{{"type": "agent_lo')
    read = read_log(path)
    assert [e.seq for e in read.events] == [1, 2, 3]
    assert [b.line for b in read.bad_lines] == [2, 5, 7]
    assert read.torn_tail
    assert "torn" in read.bad_lines[-1].reason


def test_reader_without_torn_tail(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(ev.encode(SAMPLES["status_changed"]) + "\n")
    read = read_log(path)
    assert not read.torn_tail and len(read.events) == 1


def test_writer_closes_off_a_torn_line_before_appending(tmp_path):
    path = tmp_path / "events.jsonl"
    first = SAMPLES["status_changed"].model_copy(update={"seq": 1})
    path.write_text(ev.encode(first) + "\n" + '{"type": "agent_lo')  # a crash mid-line
    writer = EventLogWriter(path)
    second = SAMPLES["agent_log"].model_copy(update={"seq": 2})
    writer.append(second)
    writer.close()
    read = read_log(path)
    assert read.events == [first, second]
    assert len(read.bad_lines) == 1 and read.bad_lines[0].line == 2
    assert not read.torn_tail  # the torn line is now an ordinary bad line, and the new event is intact
