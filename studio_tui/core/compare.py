"""Two checkpoints (of one run or two) side by side: agents, steps, failures, budget, files, code."""

from __future__ import annotations

from dataclasses import dataclass, field

from .budget import budget_table
from .state import AgentState
from .store import CheckpointRecord
from .text import sanitize, step_count


@dataclass(frozen=True)
class Row:
    label: str
    left: str
    right: str

    @property
    def differs(self) -> bool:
        return self.left != self.right


@dataclass
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)
    same: int = 0
    """Rows left out because both sides agree (files only: there can be many)."""


def _plain(value: object, limit: int = 120) -> str:
    return sanitize(str(value), max_chars=limit, keep_newlines=False)


def compare(a: CheckpointRecord, b: CheckpointRecord) -> list[Section]:
    """The differences between two checkpoints, section by section; equal rows are kept (shown plain) except files."""
    sa, sb = a.state, b.state
    overview = Section("Checkpoint")
    overview.rows += [
        Row("orchestration", _plain(a.meta.orch_id), _plain(b.meta.orch_id)),
        Row("checkpoint", f"{a.meta.id} {_plain(a.meta.name)}", f"{b.meta.id} {_plain(b.meta.name)}"),
        Row("after agent", _plain(a.meta.after_agent or "-"), _plain(b.meta.after_agent or "-")),
        Row("status", _plain(sa.status), _plain(sb.status)),
        Row("workflow", _plain(sa.routing.workflow or "-"), _plain(sb.routing.workflow or "-")),
        Row("events", str(a.meta.seq), str(b.meta.seq)),
    ]
    agents = Section("Agents")
    keys = list(dict.fromkeys([x.agent for x in sa.agent_states] + [x.agent for x in sb.agent_states]))
    for key in keys:
        left, right = sa.agent(key), sb.agent(key)

        def show(agent: AgentState | None) -> str:
            if agent is None:
                return "-"
            steps = step_count(agent.steps_completed, agent.steps_skipped, agent.total_steps)
            return f"{agent.status} · steps {steps} · try {agent.attempts}"

        agents.rows.append(Row(_plain(key, 40), show(left), show(right)))
    failures = Section("Failures")
    failures.rows.append(Row("count", str(len(sa.failures)), str(len(sb.failures))))
    seen = {(f.agent, f.step, f.category): f for f in sa.failures}
    other = {(f.agent, f.step, f.category): f for f in sb.failures}
    for failure_key in dict.fromkeys([*seen, *other]):
        who, step, category = failure_key
        label = f"{_plain(who, 30)} step {step if step is not None else '-'} {category}"
        in_a = f"{seen[failure_key].action or '…'}: {_plain(seen[failure_key].message, 60)}" if failure_key in seen else "-"
        in_b = f"{other[failure_key].action or '…'}: {_plain(other[failure_key].message, 60)}" if failure_key in other else "-"
        failures.rows.append(Row(label, in_a, in_b))
    budget = Section("Budget")
    rows_a = {name: (used, soft, level) for name, used, soft, level in budget_table(sa)}
    rows_b = {name: (used, soft, level) for name, used, soft, level in budget_table(sb)}
    for name in dict.fromkeys([*rows_a, *rows_b]):
        budget.rows.append(
            Row(
                name,
                f"{rows_a[name][0]:,} {rows_a[name][2]}" if name in rows_a else "-",
                f"{rows_b[name][0]:,} {rows_b[name][2]}" if name in rows_b else "-",
            )
        )
    files = Section("Files")
    for path in sorted(set(a.meta.files) | set(b.meta.files)):
        hash_a, hash_b = a.meta.files.get(path), b.meta.files.get(path)
        if hash_a == hash_b:
            files.same += 1
            continue
        files.rows.append(Row(_plain(path, 80), hash_a[:12] if hash_a else "absent", hash_b[:12] if hash_b else "absent"))
    if a.meta.code_commit or b.meta.code_commit:
        files.rows.append(Row("code commit", (a.meta.code_commit or "-")[:12], (b.meta.code_commit or "-")[:12]))
    return [overview, agents, failures, budget, files]
